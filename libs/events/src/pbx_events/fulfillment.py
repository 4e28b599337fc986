"""Contracts published by the fulfillment service (the checkout saga)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from pbx_events.contracts import IntegrationEvent, contract


@contract
class DebitRequested(IntegrationEvent):
    """The checkout saga asks the wallet to pay for an order (tax included, integer yen).

    The wallet answers with ``wallet.WalletDebited.v1`` or
    ``wallet.WalletDebitRejected.v1``; a repeated request for the same order gets
    the first outcome, never a second debit.
    """

    producer = "fulfillment"
    event_name = "DebitRequested"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "order_id": "5b7e1c9a-4d2f-4a8e-9c3b-1e6f0a2d7b54",
        "amount": 13200,
        "requested_at": "2024-04-02T10:00:00+09:00",
    }

    account_id: UUID
    order_id: UUID
    amount: int = Field(gt=0, le=100_000_000, description="yen, consumption tax included")
    requested_at: datetime


@contract
class RefundRequested(IntegrationEvent):
    """The saga gives an order's money back (a debit that arrived after the order was
    cancelled, a cancellation). At most the debited amount is refunded, once per order."""

    producer = "fulfillment"
    event_name = "RefundRequested"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "order_id": "5b7e1c9a-4d2f-4a8e-9c3b-1e6f0a2d7b54",
        "amount": 13200,
        "reason": "order_timed_out",
        "requested_at": "2024-04-02T10:30:00+09:00",
    }

    account_id: UUID
    order_id: UUID
    amount: int = Field(gt=0, le=100_000_000, description="yen; capped at what was debited")
    reason: Literal["order_cancelled", "order_timed_out", "returned"]
    requested_at: datetime


CheckoutRejectionReason = Literal[
    "mixed_billing",
    "empty_cart",
    "kyc_required",
    "price_changed",
    "product_unavailable",
    "circle_unknown",
    "shipping_address_required",
    "insufficient_funds",
    "timeout",
]


@contract
class OrderPlaced(IntegrationEvent):
    """The wallet paid for a checkout: the order exists (its id is the checkout's). The cart
    empties itself; identity mails the confirmation."""

    producer = "fulfillment"
    event_name = "OrderPlaced"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "checkout_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "cart_version": 7,
        "subtotal": 25000,
        "tax": 2500,
        "total": 27500,
        "placed_at": "2024-09-08T10:00:02+09:00",
    }

    order_id: UUID
    checkout_id: UUID
    account_id: UUID
    cart_version: int = Field(ge=1, description="the cart version the checkout was made from")
    subtotal: int = Field(ge=0, description="yen, tax excluded")
    tax: int = Field(ge=0)
    total: int = Field(ge=0, description="yen, tax included: what the wallet debited")
    placed_at: datetime


@contract
class CheckoutRejected(IntegrationEvent):
    """A checkout ended without an order; nothing was charged (or it was given back). The
    cart stays as it was; identity mails the reason."""

    producer = "fulfillment"
    event_name = "CheckoutRejected"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "checkout_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "reason": "insufficient_funds",
        "detail": "",
        "rejected_at": "2024-09-08T10:00:02+09:00",
    }

    checkout_id: UUID
    account_id: UUID
    reason: CheckoutRejectionReason
    detail: str = Field(
        "", max_length=500, description="what exactly (a SKU, a circle id); no personal data"
    )
    rejected_at: datetime


ServiceKind = Literal["unique", "phone_number"]


@contract
class ServiceActivated(IntegrationEvent):
    """A monthly service bought in an order is in use: a unique (a PBX seat) or a phone
    number, in the circle the order line named. Identity adds it to the circle; the cart
    offers a unique in its device settings."""

    producer = "fulfillment"
    event_name = "ServiceActivated"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "service_id": "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "circle_id": "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21",
        "kind": "unique",
        "product_id": "3e4f5a6b-7c8d-4e9f-0a1b-2c3d4e5f6a7b",
        "sku": "UNIQUE-STD",
        "name": "ユニーク（スタンダード）",
        "phone_number": None,
        "activated_at": "2024-09-08T10:00:03+09:00",
    }

    service_id: UUID
    account_id: UUID
    order_id: UUID
    circle_id: UUID
    kind: ServiceKind
    product_id: UUID
    sku: str
    name: str
    phone_number: str | None = Field(None, description="phone numbers: E.164")
    activated_at: datetime


@contract
class ServiceCancelled(IntegrationEvent):
    """A monthly service ended (a cancellation item was settled): it leaves its circle and
    the device-settings choices."""

    producer = "fulfillment"
    event_name = "ServiceCancelled"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "service_id": "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "order_id": "7b2a1d3c-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "circle_id": "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21",
        "kind": "unique",
        "cancelled_at": "2024-10-01T09:00:00+09:00",
    }

    service_id: UUID
    account_id: UUID
    order_id: UUID = Field(description="the order with the cancellation item")
    circle_id: UUID
    kind: ServiceKind
    cancelled_at: datetime
