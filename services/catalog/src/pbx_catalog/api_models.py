"""Catalog request and response shapes (validated; Japanese messages via the kit)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CategoryCode = Literal[
    "voip_phone",
    "voip_adapter",
    "network",
    "headset",
    "type_e",
    "de_monthly",
    "unverified",
    "discontinued",
]
BillingKind = Literal["one_time", "monthly", "shipping", "cancellation"]
Status = Literal["on_sale", "unverified", "discontinued"]
Shape = Literal["phone", "adapter", "router", "headset", "number", "box", "truck", "cancel"]


class ImageIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    shape: Shape
    color: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")


class ProductIn(BaseModel):
    """A product as published (admin) or seeded."""

    model_config = ConfigDict(strict=True, extra="forbid")

    sku: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")
    name: str = Field(min_length=1, max_length=100)
    category: CategoryCode
    billing_kind: BillingKind
    unit_price: int = Field(ge=0, le=10_000_000, description="税抜の単価（円）")
    tax_category: Literal["standard_10"] = "standard_10"
    status: Status = "on_sale"
    specs: list[str] = Field(default_factory=list, max_length=50)
    warranty_months: int = Field(default=0, ge=0, le=120)
    notes: list[str] = Field(default_factory=list, max_length=20)
    max_quantity: int = Field(default=10, ge=1, le=10)
    image: ImageIn


class ProductChangeIn(BaseModel):
    """An admin change, based on the version the admin saw (409 when stale)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    version: int = Field(ge=1)
    unit_price: int | None = Field(default=None, ge=0, le=10_000_000)
    status: Status | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100)
    category: CategoryCode | None = None
    specs: list[str] | None = Field(default=None, max_length=50)
    warranty_months: int | None = Field(default=None, ge=0, le=120)
    notes: list[str] | None = Field(default=None, max_length=20)
    max_quantity: int | None = Field(default=None, ge=1, le=10)
    image: ImageIn | None = None
