"""Catalog commands: one frozen dataclass per use case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PublishProduct:
    sku: str
    name: str
    category: str
    billing_kind: str
    unit_price: int
    tax_category: str
    status: str
    specs: tuple[str, ...] = ()
    warranty_months: int = 0
    notes: tuple[str, ...] = ()
    max_quantity: int = 10
    image: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangeProduct:
    sku: str
    #: the version the change was based on (optimistic concurrency: 409 when stale)
    expected_version: int
    unit_price: int | None = None
    status: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
