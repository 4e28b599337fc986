"""Contracts published by the wallet service (the prepaid balance)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from pbx_events.contracts import IntegrationEvent, contract

ChargeMethod = Literal["credit_card", "net_bank", "convenience_store", "bank_transfer"]


@contract
class WalletCharged(IntegrationEvent):
    """A top-up was confirmed by the payment provider: the money is now spendable.

    A top-up carries no consumption tax (tax arises on the purchase)."""

    producer = "wallet"
    event_name = "WalletCharged"
    major = 1
    schema_version = "1.0"

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

    account_id: UUID
    balance: int = Field(ge=0, description="yen")
    threshold: int = Field(gt=0, description="yen")
    occurred_at: datetime
