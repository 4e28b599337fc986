"""Contracts published by the cart service: the checkout it starts.

``CheckoutRequested`` carries everything the checkout saga (fulfillment) needs to decide
without asking anyone: each line priced from the cart's copy of the catalog, with the
product version it was priced at (the saga compares it with its own copy: a product
changed meanwhile is ``price_changed``), its billing kind and 日割, the device settings,
the shipping address and the totals by the invoice rule. The saga's order for a checkout
has the checkout's id (``order_id == checkout_id``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from pbx_events.catalog import BillingKind
from pbx_events.contracts import IntegrationEvent, contract
from pbx_events.identity import Address

TaxCategory = Literal["standard_10"]


class CheckoutLine(BaseModel):
    """One priced line of the cart (税抜, integer yen)."""

    model_config = ConfigDict(frozen=True)

    line_no: int = Field(ge=1, description="No. as the cart shows it")
    product_id: UUID
    product_version: int = Field(ge=1, description="the catalog version it was priced at")
    sku: str
    name: str
    billing_kind: BillingKind
    unit_price: int = Field(ge=0, description="yen, tax excluded: the monthly fee for monthly")
    prorated_unit_price: int | None = Field(
        None,
        ge=0,
        description=(
            "monthly items: 日割 of the unit price for the contract month, "
            "floor(monthly × (days − start_day + 1) / days)"
        ),
    )
    quantity: int = Field(ge=1)
    amount: int = Field(
        ge=0,
        description="what this line charges now, tax excluded: (日割 or unit) price × quantity",
    )
    tax_category: TaxCategory
    circle_id: UUID | None = Field(
        None,
        description=(
            "devices: the circle they are set up for (None: 設定無し); monthly uniques and "
            "phone numbers: the circle they are bought for"
        ),
    )
    unique_id: UUID | None = Field(
        None, description="devices: the unique they are pre-configured with (None: 設定無し)"
    )
    service_id: UUID | None = Field(
        None,
        description="cancellation items: the service (a unique or a phone number) to cancel",
    )


class TaxLine(BaseModel):
    """Tax once per rate on that rate's subtotal (インボイス rule), rounded half-up."""

    model_config = ConfigDict(frozen=True)

    tax_category: TaxCategory
    rate_percent: int = Field(ge=0, le=100)
    taxable_amount: int = Field(ge=0, description="the rate's subtotal, tax excluded")
    tax: int = Field(ge=0)


class CheckoutTotals(BaseModel):
    model_config = ConfigDict(frozen=True)

    subtotal: int = Field(ge=0, description="tax excluded")
    taxes: list[TaxLine]
    tax: int = Field(ge=0, description="the sum of the taxes by rate")
    total: int = Field(ge=0, description="subtotal + tax: what the wallet is asked for")


@contract
class CheckoutRequested(IntegrationEvent):
    """A customer asked to buy what is in their cart (ご注文の確定). The saga answers with
    ``fulfillment.OrderPlaced.v1`` or ``fulfillment.CheckoutRejected.v1``."""

    producer = "cart"
    event_name = "CheckoutRequested"
    major = 1
    schema_version = "1.1"
    example: ClassVar[dict[str, Any]] = {
        "checkout_id": "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "cart_id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
        "cart_version": 7,
        "start_date": "2024-09-08",
        "payment_method": "prepaid",
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
                "circle_id": "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21",
                "unique_id": "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b",
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
        "totals": {
            "subtotal": 25000,
            "taxes": [
                {
                    "tax_category": "standard_10",
                    "rate_percent": 10,
                    "taxable_amount": 25000,
                    "tax": 2500,
                }
            ],
            "tax": 2500,
            "total": 27500,
        },
        "requested_at": "2024-09-08T10:00:00+09:00",
        "screening_seen": "none",
    }

    checkout_id: UUID
    account_id: UUID
    cart_id: UUID
    cart_version: int = Field(ge=1, description="the cart as it was when checked out")
    start_date: date = Field(description="the contract start (today in Japan): 日割 from it")
    payment_method: Literal["prepaid"]
    lines: list[CheckoutLine] = Field(min_length=1)
    shipping_address: Address | None = Field(
        description="where devices go (required with devices; None without)"
    )
    totals: CheckoutTotals
    requested_at: datetime
    screening_seen: Literal["approved", "rejected", "expired", "none"] | None = Field(
        None,
        description="since 1.1: the screening as the cart's copy had it; the saga waits for "
        "its own copy to catch up before refusing kyc_required only when the cart saw an "
        "approval (None: not said)",
    )
