"""Contracts published by the fulfillment service (the checkout saga)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from pbx_events.contracts import IntegrationEvent, contract


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
