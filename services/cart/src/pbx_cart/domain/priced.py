"""The cart as the customer sees it and the checkout sends it: each line priced from the
cart's copy of the catalog (never a price from the client), 日割 for monthly items, the
domestic shipping line derived while the cart holds a device, and the totals by the
invoice rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pbx_cart.domain.cart import SHIPPING_LINE_ID, Cart
from pbx_cart.domain.pricing import KIND_NAMES, Charge, Totals, invoice_totals, prorate


@dataclass(frozen=True)
class PricedLine:
    line_id: str
    line_no: int
    product_id: str
    product_version: int
    sku: str
    name: str
    billing_kind: str
    kind_name: str
    unit_price: int
    #: monthly items: 日割 of the unit price for the contract month (else None)
    prorated_unit_price: int | None
    quantity: int
    #: what the line charges now, tax excluded
    amount: int
    tax_category: str
    circle_id: str | None
    unique_id: str | None
    service_id: str | None
    purchasable: bool
    max_quantity: int
    #: the customer may delete it (not the shipping line)
    removable: bool


@dataclass(frozen=True)
class PricedCart:
    lines: tuple[PricedLine, ...]
    totals: Totals
    #: lines whose product the cart has no copy of (never priced, listed to be removed)
    unknown_products: tuple[str, ...]


def shipping_product(products: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The catalog's domestic shipping product (the purchasable one with the lowest SKU)."""
    candidates = [
        p for p in products.values() if p["billing_kind"] == "shipping" and p["purchasable"]
    ]
    return min(candidates, key=lambda p: p["sku"], default=None)


def _line(
    line_id: str,
    line_no: int,
    product: Mapping[str, Any],
    quantity: int,
    start: date,
    circle_id: str | None,
    unique_id: str | None,
    *,
    removable: bool,
    service_id: str | None = None,
) -> PricedLine:
    unit_price = int(product["unit_price"])
    prorated = prorate(unit_price, start) if product["billing_kind"] == "monthly" else None
    return PricedLine(
        line_id=line_id,
        line_no=line_no,
        product_id=str(product["product_id"]),
        product_version=int(product["version"]),
        sku=str(product["sku"]),
        name=str(product["name"]),
        billing_kind=str(product["billing_kind"]),
        kind_name=KIND_NAMES[str(product["billing_kind"])],
        unit_price=unit_price,
        prorated_unit_price=prorated,
        quantity=quantity,
        amount=(prorated if prorated is not None else unit_price) * quantity,
        tax_category=str(product["tax_category"]),
        circle_id=circle_id,
        unique_id=unique_id,
        service_id=service_id,
        purchasable=bool(product["purchasable"]),
        max_quantity=int(product["max_quantity"]),
        removable=removable,
    )


def price_cart(cart: Cart, products: Mapping[str, Mapping[str, Any]], start: date) -> PricedCart:
    """Price ``cart`` with the product copies (by product id) on contract start ``start``."""
    lines: list[PricedLine] = []
    unknown: list[str] = []
    for line_id, line in cart.lines.items():
        product = products.get(line["product_id"])
        if product is None:
            unknown.append(line_id)
            continue
        lines.append(
            _line(
                line_id,
                len(lines) + 1,
                product,
                line["quantity"],
                start,
                line["circle_id"]
                or (cart.device_circle_id if line["billing_kind"] == "one_time" else None),
                line["unique_id"],
                removable=True,
                service_id=line.get("service_id"),
            )
        )
    shipping = shipping_product(products)
    if cart.has_devices() and shipping is not None:
        lines.append(
            _line(SHIPPING_LINE_ID, len(lines) + 1, shipping, 1, start, None, None, removable=False)
        )
    totals = invoice_totals(Charge(line.amount, line.tax_category) for line in lines)
    return PricedCart(lines=tuple(lines), totals=totals, unknown_products=tuple(unknown))
