"""The fulfillment service: what it is, for ``pbx_kit.service`` to build."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import anyio

from pbx_fulfillment import api
from pbx_fulfillment.application import PAYMENT_TIMEOUT, FulfillmentService, utc_now
from pbx_fulfillment.consumers import ROUTES
from pbx_fulfillment.integration import FulfillmentMapping
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.service import Running, Service

SERVICE = "fulfillment"
#: how often the durable timer looks for orders past their payment deadline
TIMER_INTERVAL = 10.0


def build(
    infra: Infrastructure,
    clock: Callable[[], datetime] = utc_now,
    payment_timeout: timedelta = PAYMENT_TIMEOUT,
) -> ServiceRuntime:
    def application(infra: Infrastructure) -> FulfillmentService:
        return FulfillmentService(
            infra.eventsourcing_env(SERVICE), clock=clock, payment_timeout=payment_timeout
        )

    async def setup(service: Running[FulfillmentService]) -> None:
        app = service.application

        async def time_out_orders() -> list[bool]:
            """One round of the durable timer: the deadline is stored on each order, so it
            survives restarts; a repeat or a second replica changes nothing (the Order
            times out once)."""
            waiting = await anyio.to_thread.run_sync(app.awaiting_payment)
            return [await anyio.to_thread.run_sync(app.time_out, order_id) for order_id in waiting]

        service.api.state.time_out_orders = time_out_orders
        service.every(TIMER_INTERVAL, time_out_orders, "time_out_orders")

    fulfillment = Service[FulfillmentService](
        name=SERVICE,
        title="Fulfillment — クラウドPBX",
        description="Orders: the checkout saga (注文), cancellation before dispatch. "
        "Errors are RFC 9457 problem+json.",
        routers=[api.router],
        application=application,
        mapping=FulfillmentMapping,
        consumers=ROUTES,
        setup=setup,
        catch_up_from_audit=True,
    )
    return fulfillment.build(infra)
