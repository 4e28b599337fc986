"""The cart service: what it is, for ``pbx_kit.service`` to build."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pbx_cart import api
from pbx_cart.application import CartService, utc_now
from pbx_cart.consumers import ROUTES
from pbx_cart.integration import CartMapping
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.service import Service

SERVICE = "cart"


def make_application(infra: Infrastructure, clock: Callable[[], datetime] = utc_now) -> CartService:
    return CartService(infra.eventsourcing_env(SERVICE), clock=clock)


def build(infra: Infrastructure, clock: Callable[[], datetime] = utc_now) -> ServiceRuntime:
    """The cart on ``infra``; tests move ``clock`` (日割 follows today in Japan)."""
    cart = Service[CartService](
        name=SERVICE,
        title="Cart — クラウドPBX",
        description="The shopping cart (ショッピングカート): lines with 日割, the "
        "invoice-rule totals, the steps, the checkout. Errors are RFC 9457 problem+json.",
        routers=[api.router],
        application=lambda infra: make_application(infra, clock),
        mapping=CartMapping,
        consumers=ROUTES,
        # started after the catalog, identity and the wallet published: it still sees all
        catch_up_from_audit=True,
    )
    return cart.build(infra)
