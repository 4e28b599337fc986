"""The Order aggregate: the checkout saga's state, one per checkout (its id is the
checkout's). Each step is an event; the application turns them into messages (the relay).

    requested ──refused──────────────────────▶ rejected
        └──checks pass──▶ awaiting_payment ──WalletDebitRejected──▶ rejected (insufficient_funds)
                               │  └──deadline passed──▶ cancelled (timed_out)
                               └──WalletDebited──▶ placed ──customer cancels──▶ cancelled
                                                     └──all dispatched and delivered──▶ completed

A debit that arrives for an order no longer waiting for it (timed out, rejected,
cancelled) is given back once (``refund_due``); a customer's cancellation of a placed
order gives back everything once. Repeated or late messages change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from pbx_kit.errors import ConflictError


class AlreadyDispatchedError(ConflictError):
    code = "already_dispatched"
    message_ja = "商品の発送後はキャンセルできません。"


class NotCancellableError(ConflictError):
    code = "order_not_cancellable"
    message_ja = "このご注文は現在キャンセルできません。"


class Order(Aggregate):
    @staticmethod
    def create_id(checkout_id: UUID) -> UUID:
        return checkout_id

    class Requested(Aggregate.Created):
        checkout_id: UUID
        account_id: UUID
        request: dict[str, Any]

    @event(Requested)
    def __init__(self, checkout_id: UUID, account_id: UUID, request: dict[str, Any]) -> None:
        self.checkout_id = checkout_id
        self.account_id = account_id
        self.request = request
        self.total = int(request["totals"]["total"])
        self.status = "requested"
        self.reason = ""
        self.detail = ""
        self.deadline: datetime | None = None
        self.debited_amount = 0
        self.refunded = 0
        self.dispatched = False

    # -- the decision -------------------------------------------------------------------

    def refuse(self, reason: str, detail: str = "") -> None:
        if self.status == "requested":
            self._rejected(reason, detail)

    class Rejected(Aggregate.Event):
        reason: str
        detail: str

    @event(Rejected)
    def _rejected(self, reason: str, detail: str) -> None:
        self.status = "rejected"
        self.reason = reason
        self.detail = detail

    def ask_for_payment(self, deadline: datetime) -> None:
        """The checks passed: the wallet is asked for the total (DebitRequested)."""
        if self.status == "requested":
            self._debit_requested(self.total, deadline)

    class DebitRequested(Aggregate.Event):
        amount: int
        deadline: datetime

    @event(DebitRequested)
    def _debit_requested(self, amount: int, deadline: datetime) -> None:
        self.status = "awaiting_payment"
        self.deadline = deadline

    # -- the wallet's answers -------------------------------------------------------------

    def debited(self, amount: int) -> None:
        """WalletDebited: the order is placed, or — too late — the money goes back."""
        if self.debited_amount:
            return  # a repeated answer
        if self.status == "awaiting_payment":
            self._placed(amount)
        elif self.status in ("rejected", "cancelled"):
            self._late_debit_refunded(amount)

    class Placed(Aggregate.Event):
        amount: int

    @event(Placed)
    def _placed(self, amount: int) -> None:
        self.status = "placed"
        self.debited_amount = amount

    class LateDebitRefunded(Aggregate.Event):
        """A debit that arrived after the order ended: RefundRequested for all of it."""

        amount: int

    @event(LateDebitRefunded)
    def _late_debit_refunded(self, amount: int) -> None:
        self.debited_amount = amount
        self.refunded = amount

    def debit_refused(self) -> None:
        """WalletDebitRejected: not enough balance."""
        if self.status == "awaiting_payment":
            self._rejected("insufficient_funds", "")

    def time_out(self, now: datetime) -> bool:
        """The durable timer: no answer by the deadline ends the order. True when it did."""
        if self.status != "awaiting_payment" or self.deadline is None or now < self.deadline:
            return False
        self._timed_out(now)
        return True

    class TimedOut(Aggregate.Event):
        at: datetime

    @event(TimedOut)
    def _timed_out(self, at: datetime) -> None:
        self.status = "cancelled"
        self.reason = "timeout"

    # -- the customer -----------------------------------------------------------------------

    def cancel(self) -> None:
        """Before dispatch: cancelled, everything refunded, the shipment called off."""
        if self.dispatched:
            raise AlreadyDispatchedError
        if self.status != "placed":
            raise NotCancellableError(status=self.status)
        self._cancelled_by_customer(self.debited_amount)

    class CancelledByCustomer(Aggregate.Event):
        refund: int

    @event(CancelledByCustomer)
    def _cancelled_by_customer(self, refund: int) -> None:
        self.status = "cancelled"
        self.reason = "customer"
        self.refunded = refund

    def mark_dispatched(self) -> None:
        if self.status == "placed" and not self.dispatched:
            self._dispatched()

    class Dispatched(Aggregate.Event):
        """The warehouse dispatched the order's shipment."""

    @event(Dispatched)
    def _dispatched(self) -> None:
        self.dispatched = True
