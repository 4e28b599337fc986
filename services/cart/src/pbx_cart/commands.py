"""What the cart is asked to do: by its HTTP routes, and by its consumers (the copies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class AddLine:
    account_id: UUID
    sku: str
    quantity: int
    circle_id: UUID | None = None
    #: the cart version the caller saw (If-Match), None: any
    expected_version: int | None = None
    #: cancellation items: the service (unique or phone number) to cancel
    service_id: UUID | None = None


@dataclass(frozen=True)
class ChangeQuantity:
    account_id: UUID
    line_id: str
    quantity: int
    expected_version: int | None = None


@dataclass(frozen=True)
class RemoveLine:
    account_id: UUID
    line_id: str
    expected_version: int | None = None


@dataclass(frozen=True)
class ChooseDeviceSettings:
    account_id: UUID
    circle_id: UUID | None
    uniques: dict[str, UUID | None] = field(default_factory=dict)
    expected_version: int | None = None


@dataclass(frozen=True)
class SaveShippingAddress:
    account_id: UUID
    #: validated and normalised with registration's rules (the Address shape)
    address: dict[str, Any]
    expected_version: int | None = None


@dataclass(frozen=True)
class ChoosePaymentMethod:
    account_id: UUID
    method: str
    expected_version: int | None = None


@dataclass(frozen=True)
class RequestCheckout:
    account_id: UUID
    checkout_id: UUID
    expected_version: int | None = None
