"""Contracts published by the fulfillment service (the checkout saga)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
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

    account_id: UUID
    order_id: UUID
    amount: int = Field(gt=0, le=100_000_000, description="yen; capped at what was debited")
    reason: Literal["order_cancelled", "order_timed_out", "returned"]
    requested_at: datetime
