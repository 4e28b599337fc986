"""Wallet commands: one frozen dataclass per use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class OpenWallet:
    account_id: UUID


@dataclass(frozen=True)
class RequestTopUp:
    account_id: UUID
    amount: int
    method: str
    card_token: str | None = None


@dataclass(frozen=True)
class ReceivePaymentNotice:
    """A provider notification whose signature was verified."""

    notification_id: str
    charge_id: UUID
    status: str  # "paid" | "cancelled"
    amount: int
    paid_at: datetime | None = None


@dataclass(frozen=True)
class DebitWallet:
    account_id: UUID
    order_id: UUID
    amount: int


@dataclass(frozen=True)
class RefundOrder:
    account_id: UUID
    order_id: UUID
    amount: int


@dataclass(frozen=True)
class SetLowBalanceThreshold:
    account_id: UUID
    threshold: int
