"""Contracts published by the catalog service.

Each carries everything the cart and the checkout saga need to price and
classify a line without asking the catalog: the full sellable state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from pbx_events.contracts import IntegrationEvent, contract

BillingKind = Literal["one_time", "monthly", "shipping", "cancellation"]
ProductStatus = Literal["on_sale", "unverified", "discontinued"]


class ProductState(BaseModel):
    """What a product is and costs at one version."""

    model_config = ConfigDict(frozen=True)

    product_id: UUID
    sku: str
    name: str
    category: str
    billing_kind: BillingKind
    unit_price: int = Field(ge=0, description="integer yen, tax excluded (税抜)")
    tax_category: Literal["standard_10"]
    status: ProductStatus
    purchasable: bool
    max_quantity: int = Field(ge=1)
    warranty_months: int = Field(ge=0)
    version: int = Field(ge=1, description="the product's version: later versions win")


@contract
class ProductPublished(IntegrationEvent):
    """A product entered the catalog."""

    producer = "catalog"
    event_name = "ProductPublished"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "product": {
            "product_id": "6c1e4a8e-1c1a-5a7b-9a51-2f0b8f0d7e11",
            "sku": "GS-GXP1400",
            "name": "Grandstream GXP1400",
            "category": "voip_phone",
            "billing_kind": "one_time",
            "unit_price": 9800,
            "tax_category": "standard_10",
            "status": "on_sale",
            "purchasable": True,
            "max_quantity": 10,
            "warranty_months": 6,
            "version": 1,
        },
        "occurred_at": "2024-04-01T09:00:00+09:00",
    }

    product: ProductState
    occurred_at: datetime


@contract
class ProductChanged(IntegrationEvent):
    """A product's price, status or details changed (the whole new state)."""

    producer = "catalog"
    event_name = "ProductChanged"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "product": {
            "product_id": "6c1e4a8e-1c1a-5a7b-9a51-2f0b8f0d7e11",
            "sku": "GS-GXP1400",
            "name": "Grandstream GXP1400",
            "category": "voip_phone",
            "billing_kind": "one_time",
            "unit_price": 9800,
            "tax_category": "standard_10",
            "status": "on_sale",
            "purchasable": True,
            "max_quantity": 10,
            "warranty_months": 6,
            "version": 2,
        },
        "changed": ["price"],
        "occurred_at": "2024-05-01T09:00:00+09:00",
    }

    product: ProductState
    changed: list[str] = Field(description="which of price, status, details changed")
    occurred_at: datetime


@contract
class ProductDiscontinued(IntegrationEvent):
    """A product is no longer sold (still listed, not purchasable)."""

    producer = "catalog"
    event_name = "ProductDiscontinued"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "product": {
            "product_id": "6c1e4a8e-1c1a-5a7b-9a51-2f0b8f0d7e11",
            "sku": "GS-GXP1400",
            "name": "Grandstream GXP1400",
            "category": "voip_phone",
            "billing_kind": "one_time",
            "unit_price": 9800,
            "tax_category": "standard_10",
            "status": "discontinued",
            "purchasable": False,
            "max_quantity": 10,
            "warranty_months": 6,
            "version": 1,
        },
        "occurred_at": "2025-01-01T09:00:00+09:00",
    }

    product: ProductState
    occurred_at: datetime
