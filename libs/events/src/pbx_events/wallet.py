"""Contracts published by the wallet service (the prepaid balance)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from pbx_events.contracts import IntegrationEvent, contract

ChargeMethod = Literal["credit_card", "net_bank", "convenience_store", "bank_transfer"]


@contract
class WalletCharged(IntegrationEvent):
    """A top-up was confirmed by the payment provider: the money is now spendable.

    A bank transfer that arrives short is credited for what arrived (``amount``, one event
    per part; the same ``charge_id`` again when the rest comes). A top-up carries no
    consumption tax (tax arises on the purchase)."""

    producer = "wallet"
    event_name = "WalletCharged"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "charge_id": "9a1f2e3d-5c6b-4a79-8e0d-1f2a3b4c5d6e",
        "method": "convenience_store",
        "amount": 20000,
        "balance_after": 20000,
        "charged_at": "2024-04-01T18:12:00+09:00",
    }

    account_id: UUID
    charge_id: UUID
    method: ChargeMethod
    amount: int = Field(gt=0, description="yen")
    balance_after: int = Field(ge=0, description="spendable balance after the charge, yen")
    charged_at: datetime


@contract
class WalletDebited(IntegrationEvent):
    """An order was paid from the balance (once per order)."""

    producer = "wallet"
    event_name = "WalletDebited"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "order_id": "5b7e1c9a-4d2f-4a8e-9c3b-1e6f0a2d7b54",
        "amount": 13200,
        "balance_after": 6800,
        "debited_at": "2024-04-02T10:00:01+09:00",
    }

    account_id: UUID
    order_id: UUID
    amount: int = Field(gt=0, description="yen")
    balance_after: int = Field(ge=0, description="yen")
    debited_at: datetime


@contract
class WalletDebitRejected(IntegrationEvent):
    """An order could not be paid; nothing was taken from the balance."""

    producer = "wallet"
    event_name = "WalletDebitRejected"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "order_id": "5b7e1c9a-4d2f-4a8e-9c3b-1e6f0a2d7b54",
        "amount": 13200,
        "reason": "insufficient_funds",
        "balance": 500,
        "rejected_at": "2024-04-02T10:00:01+09:00",
    }

    account_id: UUID
    order_id: UUID
    amount: int = Field(gt=0, description="yen asked for")
    reason: Literal["insufficient_funds"]
    balance: int = Field(ge=0, description="spendable balance when refused, yen")
    rejected_at: datetime


@contract
class WalletRefunded(IntegrationEvent):
    """An order's money went back to the balance (at most what was debited, once)."""

    producer = "wallet"
    event_name = "WalletRefunded"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "order_id": "5b7e1c9a-4d2f-4a8e-9c3b-1e6f0a2d7b54",
        "amount": 13200,
        "balance_after": 20000,
        "refunded_at": "2024-04-02T10:30:01+09:00",
    }

    account_id: UUID
    order_id: UUID
    amount: int = Field(gt=0, description="yen")
    balance_after: int = Field(ge=0, description="yen")
    refunded_at: datetime


@contract
class WalletBalanceLow(IntegrationEvent):
    """The balance dropped below the threshold the owner set (the owner is told by mail;
    identity, which holds the contact address, sends it)."""

    producer = "wallet"
    event_name = "WalletBalanceLow"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "balance": 6800,
        "threshold": 10000,
        "occurred_at": "2024-04-02T10:00:01+09:00",
    }

    account_id: UUID
    balance: int = Field(ge=0, description="yen")
    threshold: int = Field(gt=0, description="yen")
    occurred_at: datetime
