"""Contracts published by the fulfillment service (the checkout saga)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from pbx_events.cart import CheckoutLine
from pbx_events.contracts import IntegrationEvent, contract
from pbx_events.identity import Address


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
    schema_version = "1.1"
    example: ClassVar[dict[str, Any]] = {
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "checkout_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "cart_version": 7,
        "subtotal": 25000,
        "tax": 2500,
        "total": 27500,
        "placed_at": "2024-09-08T10:00:02+09:00",
        "lines": [
            {
                "line_no": 1,
                "product_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                "product_version": 3,
                "sku": "SPA-504G",
                "name": "Cisco SPA504G",
                "billing_kind": "one_time",
                "unit_price": 12000,
                "quantity": 2,
                "amount": 24000,
                "tax_category": "standard_10",
            },
            {
                "line_no": 2,
                "product_id": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
                "product_version": 1,
                "sku": "SHIPPING-JP",
                "name": "国内配送料",
                "billing_kind": "shipping",
                "unit_price": 1000,
                "quantity": 1,
                "amount": 1000,
                "tax_category": "standard_10",
            },
        ],
        "shipping_address": None,
    }

    order_id: UUID
    checkout_id: UUID
    account_id: UUID
    cart_version: int = Field(ge=1, description="the cart version the checkout was made from")
    subtotal: int = Field(ge=0, description="yen, tax excluded")
    tax: int = Field(ge=0)
    total: int = Field(ge=0, description="yen, tax included: what the wallet debited")
    placed_at: datetime
    #: 1.1: what was ordered and where it goes, for the confirmation mail
    lines: list[CheckoutLine] = Field(default_factory=list, description="since 1.1")
    shipping_address: Address | None = Field(
        None, description="since 1.1: where the devices go (None: nothing to ship)"
    )


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


ServiceKind = Literal["unique", "phone_number", "rental"]


@contract
class ServiceActivated(IntegrationEvent):
    """A monthly service bought in an order is in use: a unique (a PBX seat) or a phone
    number, in the circle the order line named. Identity adds it to the circle; the cart
    offers a unique in its device settings."""

    producer = "fulfillment"
    event_name = "ServiceActivated"
    major = 1
    schema_version = "1.1"  # 1.1: kind "rental" (D+E monthly rental devices)
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
    schema_version = "1.1"  # 1.1: kind "rental" (D+E monthly rental devices)
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


# -- the order's outcome --------------------------------------------------------------

OrderCancellationReason = Literal["timed_out", "customer"]


@contract
class OrderCancelled(IntegrationEvent):
    """An order ended without being fulfilled: the wallet did not answer in time
    (``timed_out``, nothing was placed) or the customer cancelled before dispatch
    (``customer``: everything is refunded, the shipment called off)."""

    producer = "fulfillment"
    event_name = "OrderCancelled"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "reason": "customer",
        "refund": 27500,
        "cancelled_at": "2024-09-08T11:00:00+09:00",
    }

    order_id: UUID
    account_id: UUID
    reason: OrderCancellationReason
    refund: int = Field(ge=0, description="yen to be given back (0: nothing was debited)")
    cancelled_at: datetime


@contract
class OrderCompleted(IntegrationEvent):
    """Everything in the order is done: its shipment delivered (devices) and its services
    activated or cancelled (monthly and cancellation items)."""

    producer = "fulfillment"
    event_name = "OrderCompleted"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "completed_at": "2024-09-10T15:20:00+09:00",
    }

    order_id: UUID
    account_id: UUID
    completed_at: datetime


# -- the warehouse ----------------------------------------------------------------------

#: the queue the warehouse consumes (fulfillment declares it, so nothing published before
#: the warehouse first connects is lost); it binds the four Shipment* routing keys
WAREHOUSE_QUEUE = "warehouse.shipments"


class ShipmentItem(BaseModel):
    """A device to pack, with the pre-configuration the customer chose (機器設定)."""

    model_config = ConfigDict(frozen=True)

    line_no: int = Field(ge=1, description="the order line it comes from")
    product_id: UUID
    sku: str
    name: str
    quantity: int = Field(ge=1)
    circle_id: UUID | None = Field(None, description="the circle to set it up for (None: 設定無し)")
    unique_id: UUID | None = Field(None, description="the unique to configure (None: 設定無し)")


@contract
class ShipmentRequested(IntegrationEvent):
    """The warehouse is to pack and send an order's devices (one shipment per order) to the
    address on the order. Reported back over HTTP: dispatched, then delivered."""

    producer = "fulfillment"
    event_name = "ShipmentRequested"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "shipment_id": "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f",
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "items": [
            {
                "line_no": 1,
                "product_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                "sku": "SPA-504G",
                "name": "Cisco SPA504G",
                "quantity": 2,
                "circle_id": "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21",
                "unique_id": "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b",
            }
        ],
        "shipping_address": {
            "name": "株式会社サンプル 大阪支店",
            "name_kana": "カブシキガイシャサンプル　オオサカシテン",
            "postal_code": "5300001",
            "prefecture_code": "27",
            "city": "大阪市北区",
            "city_kana": "オオサカシキタク",
            "street": "梅田1-1-1",
            "street_kana": "ウメダ1-1-1",
            "phone_e164": "+81661234567",
        },
        "requested_at": "2024-09-08T10:00:03+09:00",
    }

    shipment_id: UUID
    order_id: UUID
    account_id: UUID
    items: list[ShipmentItem] = Field(min_length=1)
    shipping_address: Address
    requested_at: datetime


@contract
class ShipmentCancelled(IntegrationEvent):
    """Do not send this shipment (the customer cancelled the order before dispatch)."""

    producer = "fulfillment"
    event_name = "ShipmentCancelled"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "shipment_id": "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f",
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "reason": "order_cancelled",
        "cancelled_at": "2024-09-08T11:00:00+09:00",
    }

    shipment_id: UUID
    order_id: UUID
    account_id: UUID
    reason: Literal["order_cancelled"]
    cancelled_at: datetime


@contract
class ShipmentDispatched(IntegrationEvent):
    """The warehouse handed the shipment to a carrier (its report, recorded once); identity
    mails the customer the carrier and tracking number."""

    producer = "fulfillment"
    event_name = "ShipmentDispatched"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "shipment_id": "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f",
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "carrier": "yamato",
        "tracking_number": "1234-5678-9012",
        "dispatched_at": "2024-09-09T16:00:00+09:00",
    }

    shipment_id: UUID
    order_id: UUID
    account_id: UUID
    carrier: str = Field(min_length=1, max_length=40)
    tracking_number: str = Field(min_length=1, max_length=40)
    dispatched_at: datetime


@contract
class ShipmentDelivered(IntegrationEvent):
    """The carrier delivered the shipment (the warehouse's report, recorded once)."""

    producer = "fulfillment"
    event_name = "ShipmentDelivered"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "shipment_id": "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f",
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "delivered_at": "2024-09-10T15:20:00+09:00",
    }

    shipment_id: UUID
    order_id: UUID
    account_id: UUID
    delivered_at: datetime


# -- incidents ----------------------------------------------------------------------------

IncidentKind = Literal["refund_overdue", "dispatched_after_cancel"]


@contract
class CompensationFailed(IntegrationEvent):
    """An incident for the operators: a compensation did not happen as it should — a refund
    the wallet has not confirmed in time (refused or lost), or a shipment the warehouse
    dispatched after the order was cancelled. Also counted in the metrics
    ``pbx_fulfillment_incidents`` and ``pbx_fulfillment_incidents_recorded_total``."""

    producer = "fulfillment"
    event_name = "CompensationFailed"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "incident_id": "9dac7d3e-9f7e-5b61-8d2c-0e1f2a3b4c5d",
        "order_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "kind": "refund_overdue",
        "amount": 27500,
        "detail": "no WalletRefunded within 10 minutes",
        "detected_at": "2024-09-08T11:10:00+09:00",
    }

    incident_id: UUID
    order_id: UUID
    account_id: UUID
    kind: IncidentKind
    amount: int = Field(ge=0, description="yen at stake")
    detail: str = Field("", max_length=500)
    detected_at: datetime


#: what the warehouse consumes from its queue (documented as its operations in the AsyncAPI)
WAREHOUSE_MESSAGES: tuple[type[IntegrationEvent], ...] = (
    ShipmentRequested,
    ShipmentCancelled,
)
