"""Contracts published by the catalog service.

Each carries everything the cart and the checkout saga need to price and
classify a line without asking the catalog: the full sellable state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
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

    product: ProductState
    occurred_at: datetime


@contract
class ProductChanged(IntegrationEvent):
    """A product's price, status or details changed (the whole new state)."""

    producer = "catalog"
    event_name = "ProductChanged"
    major = 1
    schema_version = "1.0"

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

    product: ProductState
    occurred_at: datetime
