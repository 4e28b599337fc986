"""The composition root: every service the system has (a service not built yet is absent)."""

from __future__ import annotations

from collections.abc import Callable

from pbx_cart.main import build as build_cart
from pbx_catalog.main import build as build_catalog
from pbx_fulfillment.main import build as build_fulfillment
from pbx_identity.main import build as build_identity
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kyc.main import build as build_kyc
from pbx_wallet.main import build as build_wallet

SERVICES: dict[str, Callable[[Infrastructure], ServiceRuntime]] = {
    "identity": build_identity,
    "kyc": build_kyc,
    "catalog": build_catalog,
    "cart": build_cart,
    "wallet": build_wallet,
    "fulfillment": build_fulfillment,
}
