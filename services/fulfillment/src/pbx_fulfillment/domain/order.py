"""The Order aggregate: the checkout saga's state, one per checkout (its id is the
checkout's). Each step is an event; the application turns them into messages (the relay).

    requested ──refused──────────────────────▶ rejected
        └──checks pass──▶ awaiting_payment ──WalletDebitRejected──▶ rejected (insufficient_funds)
                               │  └──deadline passed──▶ cancelled (timeout)
                               └──WalletDebited──▶ placed ──customer cancels──▶ cancelled
                                                     └──shipment delivered──▶ completed

Placing records the plan (``plan.py``): the shipment of the devices, the services activated
and cancelled; an order with nothing to ship is completed at once. The shipment goes
requested → dispatched → delivered by the warehouse's reports (repeats change nothing, a
delivery before the dispatch is refused), or cancelled with the order.

A debit that arrives for an order no longer waiting for it (timed out, rejected,
cancelled) is given back once; a customer's cancellation of a placed order gives back
everything once. Each refund has a deadline for the wallet's confirmation: past it, or a
shipment dispatched after its order was cancelled, is an incident (``Incident``) for the
operators, recorded once. Repeated or late messages change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from pbx_fulfillment.domain.plan import Plan, shipment_id_of
from pbx_kit.errors import ConflictError


class AlreadyDispatchedError(ConflictError):
    code = "already_dispatched"
    message_ja = "商品の発送後はキャンセルできません。"


class NotCancellableError(ConflictError):
    code = "order_not_cancellable"
    message_ja = "このご注文は現在キャンセルできません。"


class ShipmentNotDispatchedError(ConflictError):
    code = "shipment_not_dispatched"
    message_ja = "発送の報告より前に配達完了は報告できません。"


class ShipmentCancelledError(ConflictError):
    code = "shipment_cancelled"
    message_ja = "この出荷はご注文のキャンセルにより取り消されています。"


_INCIDENTS = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/fulfillment/incident")


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
        #: yen given back (requested of the wallet) and whether the wallet confirmed it
        self.refunded = 0
        self.refund_due_by: datetime | None = None
        self.refund_confirmed = False
        #: {shipment_id, items, status, carrier, tracking_number} or None
        self.shipment: dict[str, Any] | None = None
        self.activations: list[dict[str, Any]] = []
        self.cancellations: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []

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

    def debited(self, amount: int, plan: Plan, refund_due_by: datetime) -> None:
        """WalletDebited: the order is placed with its plan, or — too late — the money goes
        back (the wallet to confirm by ``refund_due_by``)."""
        if self.debited_amount:
            return  # a repeated answer
        if self.status == "awaiting_payment":
            shipment = None
            if plan.items:
                shipment = {
                    "shipment_id": str(shipment_id_of(self.id)),
                    "items": plan.items,
                    "status": "requested",
                    "carrier": None,
                    "tracking_number": None,
                }
            self._placed(amount, shipment, plan.activations, plan.cancellations)
            if shipment is None:
                self._completed()
        elif self.status in ("rejected", "cancelled"):
            self._late_debit_refunded(amount, refund_due_by)

    class Placed(Aggregate.Event):
        amount: int
        shipment: dict[str, Any] | None
        activations: list[dict[str, Any]]
        cancellations: list[dict[str, Any]]

    @event(Placed)
    def _placed(
        self,
        amount: int,
        shipment: dict[str, Any] | None,
        activations: list[dict[str, Any]],
        cancellations: list[dict[str, Any]],
    ) -> None:
        self.status = "placed"
        self.debited_amount = amount
        self.shipment = shipment
        self.activations = activations
        self.cancellations = cancellations

    class Completed(Aggregate.Event):
        """Everything is done: the shipment delivered (or none), the services set."""

    @event(Completed)
    def _completed(self) -> None:
        self.status = "completed"

    class LateDebitRefunded(Aggregate.Event):
        """A debit that arrived after the order ended: RefundRequested for all of it."""

        amount: int
        refund_due_by: datetime

    @event(LateDebitRefunded)
    def _late_debit_refunded(self, amount: int, refund_due_by: datetime) -> None:
        self.debited_amount = amount
        self.refunded = amount
        self.refund_due_by = refund_due_by

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

    @property
    def dispatched(self) -> bool:
        return self.shipment is not None and self.shipment["status"] in ("dispatched", "delivered")

    def cancel(self, refund_due_by: datetime) -> None:
        """Before dispatch: cancelled, everything refunded, the shipment called off."""
        if self.dispatched:
            raise AlreadyDispatchedError
        if self.status != "placed":
            raise NotCancellableError(status=self.status)
        self._cancelled_by_customer(self.debited_amount, refund_due_by)

    class CancelledByCustomer(Aggregate.Event):
        refund: int
        refund_due_by: datetime

    @event(CancelledByCustomer)
    def _cancelled_by_customer(self, refund: int, refund_due_by: datetime) -> None:
        self.status = "cancelled"
        self.reason = "customer"
        self.refunded = refund
        self.refund_due_by = refund_due_by
        if self.shipment is not None:
            self.shipment = {**self.shipment, "status": "cancelled"}

    # -- the warehouse ----------------------------------------------------------------------

    def dispatch(self, carrier: str, tracking_number: str) -> str:
        """The warehouse's dispatch report: ``dispatched``, ``unchanged`` (a repeat), or
        ``after_cancel`` (the order was cancelled: an incident, recorded once)."""
        shipment = self._the_shipment()
        if shipment["status"] == "cancelled":
            self._incident(
                "dispatched_after_cancel",
                self.refunded,
                f"{carrier} {tracking_number}: the order was cancelled and refunded",
            )
            return "after_cancel"
        if shipment["status"] != "requested":
            return "unchanged"
        self._dispatched(carrier, tracking_number)
        return "dispatched"

    class ShipmentDispatched(Aggregate.Event):
        carrier: str
        tracking_number: str

    @event(ShipmentDispatched)
    def _dispatched(self, carrier: str, tracking_number: str) -> None:
        assert self.shipment is not None
        self.shipment = {
            **self.shipment,
            "status": "dispatched",
            "carrier": carrier,
            "tracking_number": tracking_number,
        }

    def deliver(self) -> str:
        """The warehouse's delivery report: ``delivered`` (the order completes) or
        ``unchanged``; before the dispatch or for a cancelled shipment: refused."""
        shipment = self._the_shipment()
        if shipment["status"] == "cancelled":
            raise ShipmentCancelledError
        if shipment["status"] == "requested":
            raise ShipmentNotDispatchedError
        if shipment["status"] == "delivered":
            return "unchanged"
        self._delivered()
        self._completed()
        return "delivered"

    class ShipmentDelivered(Aggregate.Event):
        pass

    @event(ShipmentDelivered)
    def _delivered(self) -> None:
        assert self.shipment is not None
        self.shipment = {**self.shipment, "status": "delivered"}

    def _the_shipment(self) -> dict[str, Any]:
        if self.shipment is None:
            raise ShipmentCancelledError  # not reachable through a shipment id
        return self.shipment

    # -- compensations ----------------------------------------------------------------------

    def confirm_refund(self) -> None:
        """WalletRefunded for this order."""
        if self.refunded and not self.refund_confirmed:
            self._refund_confirmed()

    class RefundConfirmed(Aggregate.Event):
        pass

    @event(RefundConfirmed)
    def _refund_confirmed(self) -> None:
        self.refund_confirmed = True

    def refund_overdue(self, now: datetime) -> bool:
        """The timer: a refund the wallet has not confirmed by its deadline is an incident
        (once). True when it became one now."""
        if (
            not self.refunded
            or self.refund_confirmed
            or self.refund_due_by is None
            or now < self.refund_due_by
            or any(i["kind"] == "refund_overdue" for i in self.incidents)
        ):
            return False
        self._incident("refund_overdue", self.refunded, "the wallet has not confirmed the refund")
        return True

    @property
    def refund_pending(self) -> bool:
        """A refund asked for, neither confirmed nor yet an incident (the timer's)."""
        return (
            bool(self.refunded)
            and not self.refund_confirmed
            and not any(i["kind"] == "refund_overdue" for i in self.incidents)
        )

    def _incident(self, kind: str, amount: int, detail: str) -> None:
        if not any(i["kind"] == kind for i in self.incidents):
            incident_id = str(uuid5(_INCIDENTS, f"{self.id}/{kind}"))
            self._incident_recorded(incident_id, kind, amount, detail)

    class Incident(Aggregate.Event):
        """A compensation that did not happen as it should: for the operators."""

        incident_id: str
        kind: str
        amount: int
        detail: str

    @event(Incident)
    def _incident_recorded(self, incident_id: str, kind: str, amount: int, detail: str) -> None:
        self.incidents.append(
            {"incident_id": incident_id, "kind": kind, "amount": amount, "detail": detail}
        )


class ShipmentRef(Aggregate):
    """A shipment's id → its order (the warehouse reports by shipment id); saved with the
    order that placed it."""

    class Made(Aggregate.Created):
        order_id: UUID

    @event(Made)
    def __init__(self, order_id: UUID) -> None:
        self.order_id = order_id

    @staticmethod
    def create_id(order_id: UUID) -> UUID:
        return shipment_id_of(order_id)
