"""Test support shipped with the package (like ``pbx_kyc.testing``): checkout lines and
``CheckoutRequested`` payloads as the saga receives them, for fulfillment's own tests and
the flows across services, instead of a copy in each."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pbx_events.cart import CheckoutRequested
from pbx_events.fulfillment import ShipmentRequested

#: the contract's own example address (大阪市北区)
ADDRESS: dict[str, Any] = dict(ShipmentRequested.example["shipping_address"])


def product_id_of(sku: str) -> str:
    """A product's id, the same for the same SKU in every test."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, sku))


def a_line(
    line_no: int, kind: str, sku: str, quantity: int = 1, price: int = 1_000, **extra: Any
) -> dict[str, Any]:
    """A priced cart line (CheckoutLine) of ``kind`` (one_time, monthly, shipping,
    cancellation); ``extra``: circle_id, unique_id, service_id, product_version…"""
    return {
        "line_no": line_no,
        "product_id": product_id_of(sku),
        "product_version": 1,
        "sku": sku,
        "name": f"{sku} (test)",
        "billing_kind": kind,
        "unit_price": price,
        "quantity": quantity,
        "amount": price * quantity,
        "tax_category": "standard_10",
        **extra,
    }


def a_request(
    lines: list[dict[str, Any]],
    address: dict[str, Any] | None,
    requested_at: datetime,
    *,
    account_id: uuid.UUID | None = None,
    screening_seen: str | None = None,
) -> dict[str, Any]:
    """A CheckoutRequested as the consumer hands it to the saga (validated, JSON mode):
    10 % on the subtotal, one tax line."""
    subtotal = sum(int(line["amount"]) for line in lines)
    tax = subtotal // 10
    return CheckoutRequested(
        checkout_id=uuid.uuid4(),
        account_id=account_id or uuid.uuid4(),
        cart_id=uuid.uuid4(),
        cart_version=3,
        start_date=requested_at.date(),
        payment_method="prepaid",
        lines=lines,
        shipping_address=address,
        totals={
            "subtotal": subtotal,
            "taxes": [
                {
                    "tax_category": "standard_10",
                    "rate_percent": 10,
                    "taxable_amount": subtotal,
                    "tax": tax,
                }
            ],
            "tax": tax,
            "total": subtotal + tax,
        },
        requested_at=requested_at,
        screening_seen=screening_seen,
    ).model_dump(mode="json")
