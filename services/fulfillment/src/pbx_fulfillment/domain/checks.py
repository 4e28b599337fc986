"""What the saga checks before it asks the wallet for money (SPEC §5.3, ARCHITECTURE "the
checkout saga"): decided from the facts fulfillment keeps from events, never by asking.

The first failing check names the refusal: ``empty_cart``, ``mixed_billing`` (monthly or
cancellation items with devices: the saga re-checks what the cart refuses up front),
``shipping_address_required`` (devices and nowhere to send them), ``kyc_required``
(monthly items need an approved, unexpired screening; devices alone do not),
``product_unavailable`` / ``price_changed`` (its copy of the catalog says the product is no
longer purchasable, or is at another version than the line was priced at),
``circle_unknown`` (a circle, unique or service the account does not have).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEVICE_KINDS = frozenset({"one_time", "shipping"})
SERVICE_KINDS = frozenset({"monthly", "cancellation"})


@dataclass(frozen=True)
class ProductFacts:
    version: int
    purchasable: bool


@dataclass(frozen=True)
class AccountFacts:
    screening: str = "none"  # approved | rejected | expired | none
    circles: frozenset[str] = frozenset()
    #: service id → the circle it is in (uniques and numbers in use)
    services: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    reason: str
    #: what exactly (a SKU, a circle id): no personal data
    detail: str = ""


def check_checkout(
    lines: Sequence[Mapping[str, Any]],
    products: Mapping[str, ProductFacts],
    account: AccountFacts,
    *,
    has_address: bool = True,
) -> Refusal | None:
    """The refusal of a checkout's lines (CheckoutRequested's ``lines``), or None."""
    if not lines:
        return Refusal("empty_cart")
    kinds = {str(line["billing_kind"]) for line in lines}
    if kinds & DEVICE_KINDS and kinds & SERVICE_KINDS:
        return Refusal("mixed_billing")
    if "one_time" in kinds and not has_address:
        return Refusal("shipping_address_required")
    if "monthly" in kinds and account.screening != "approved":
        return Refusal("kyc_required")
    for line in lines:
        product = products.get(str(line["product_id"]))
        if product is None or not product.purchasable:
            return Refusal("product_unavailable", str(line["sku"]))
        if product.version != int(line["product_version"]):
            return Refusal("price_changed", str(line["sku"]))
    for line in lines:
        circle = line.get("circle_id")
        if circle is not None and str(circle) not in account.circles:
            return Refusal("circle_unknown", str(circle))
        unique = line.get("unique_id")
        if unique is not None and account.services.get(str(unique)) != str(circle):
            return Refusal("circle_unknown", str(unique))
        service = line.get("service_id")
        if service is not None and str(service) not in account.services:
            return Refusal("circle_unknown", str(service))
    return None
