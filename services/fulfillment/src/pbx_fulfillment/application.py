"""The fulfillment application: the checkout saga. Each answer it consumes is load →
decide → save on the Order; what the Order records the relay publishes (DebitRequested,
OrderPlaced, CheckoutRejected, RefundRequested, the shipment and service events, incidents).
Decided from its own copies, never by asking another service."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from prometheus_client import Counter

from pbx_events.availability import NotYetKnownError
from pbx_events.store import ServiceApplication
from pbx_fulfillment.domain.checks import AccountFacts, ProductFacts, check_checkout
from pbx_fulfillment.domain.copies import AccountFactsCopy, ProductFactsCopy
from pbx_fulfillment.domain.numbers import BLOCKS, NumberBlock
from pbx_fulfillment.domain.order import Order, ShipmentCancelledError, ShipmentRef
from pbx_fulfillment.domain.plan import Plan, plan_order
from pbx_kit.errors import NotFoundError

T = TypeVar("T")
MAX_ATTEMPTS = 50
#: no answer from the wallet within this long cancels the order (a setting)
PAYMENT_TIMEOUT = timedelta(minutes=5)
#: a refund the wallet has not confirmed within this long is an incident (a setting)
REFUND_TIMEOUT = timedelta(minutes=10)
#: a refusal on facts that may still be on their way (another queue is behind) waits this
#: long after the checkout before it is final
FACTS_GRACE = timedelta(seconds=15)


def utc_now() -> datetime:
    return datetime.now(UTC)


class OrderNotFoundError(NotFoundError):
    code = "order_not_found"
    message_ja = "指定されたご注文が見つかりません。"


#: incidents recorded by this process (the gauge ``pbx_fulfillment_incidents`` counts all of
#: them from the read model)
INCIDENTS_RECORDED = Counter(
    "pbx_fulfillment_incidents_recorded",
    "Compensations that failed, as this process recorded them",
    ["kind"],
)


class ShipmentNotFoundError(NotFoundError):
    code = "shipment_not_found"
    message_ja = "指定された出荷が見つかりません。"


class FulfillmentService(ServiceApplication):
    name = "fulfillment"

    def __init__(
        self,
        env: dict[str, str],
        *,
        clock: Callable[[], datetime] = utc_now,
        payment_timeout: timedelta = PAYMENT_TIMEOUT,
        refund_timeout: timedelta = REFUND_TIMEOUT,
    ) -> None:
        super().__init__(env=env)
        self.clock = clock
        self.payment_timeout = payment_timeout
        self.refund_timeout = refund_timeout

    # -- copies ------------------------------------------------------------------------

    def copy_product(self, state: dict[str, Any]) -> None:
        def load() -> ProductFactsCopy:
            try:
                copy: ProductFactsCopy = self.repository.get(UUID(str(state["product_id"])))
            except AggregateNotFoundError:
                return ProductFactsCopy(state)
            copy.update(state)
            return copy

        self.change(load, lambda copy: copy, attempts=MAX_ATTEMPTS)

    def change_account(self, account_id: UUID, decide: Callable[[AccountFactsCopy], Any]) -> None:
        def load() -> AccountFactsCopy:
            try:
                copy: AccountFactsCopy = self.repository.get(AccountFactsCopy.create_id(account_id))
            except AggregateNotFoundError:
                return AccountFactsCopy(account_id)
            return copy

        self.change(load, decide, attempts=MAX_ATTEMPTS)

    def _facts(self, lines: list[dict[str, Any]], account_id: UUID) -> tuple[Any, AccountFacts]:
        products: dict[str, ProductFacts] = {}
        for line in lines:
            try:
                copy: ProductFactsCopy = self.repository.get(UUID(str(line["product_id"])))
            except AggregateNotFoundError:
                continue
            products[str(line["product_id"])] = ProductFacts(
                int(copy.state["version"]), bool(copy.state["purchasable"])
            )
        account = self._account(account_id)
        facts = AccountFacts(
            screening=account.screening,
            circles=account.active_circles(),
            services={sid: s["circle_id"] for sid, s in account.services_in_use().items()},
        )
        return products, facts

    def _account(self, account_id: UUID) -> AccountFactsCopy:
        try:
            copy: AccountFactsCopy = self.repository.get(AccountFactsCopy.create_id(account_id))
        except AggregateNotFoundError:
            return AccountFactsCopy(account_id)
        return copy

    # -- the saga ------------------------------------------------------------------------

    def get_order(self, order_id: UUID) -> Order:
        try:
            order: Order = self.repository.get(order_id)
        except AggregateNotFoundError:
            raise OrderNotFoundError from None
        return order

    def checkout_requested(
        self, checkout_id: UUID, account_id: UUID, request: dict[str, Any]
    ) -> None:
        """Check the request against the copies; refuse, or ask the wallet for the total."""
        try:
            self.get_order(checkout_id)
            return  # a repeated request
        except OrderNotFoundError:
            pass
        order = Order(checkout_id, account_id, request)
        products, account = self._facts(list(request["lines"]), account_id)
        refusal = check_checkout(
            list(request["lines"]),
            products,
            account,
            has_address=request.get("shipping_address") is not None,
        )
        if refusal is not None and self._maybe_behind(refusal.reason, request, products):
            raise NotYetKnownError(
                f"checkout {checkout_id}: {refusal.reason} on facts maybe behind"
            )
        if refusal is not None:
            order.refuse(refusal.reason, refusal.detail)
        else:
            order.ask_for_payment(self.clock() + self.payment_timeout)
        self.save(order)

    def _maybe_behind(
        self, reason: str, request: dict[str, Any], products: dict[str, ProductFacts]
    ) -> bool:
        """Whether a refusal may come from a copy that is behind the cart's (the facts came
        by other queues), within the grace after the checkout: then wait for them."""
        requested_at = datetime.fromisoformat(str(request["requested_at"]))
        if self.clock() >= requested_at + FACTS_GRACE:
            return False
        if reason == "circle_unknown":
            return True  # the cart takes only circles and services its copy has
        if reason == "kyc_required":
            return request.get("screening_seen") in ("approved", None)
        behind = [
            line
            for line in request["lines"]
            if str(line["product_id"]) not in products
            or products[str(line["product_id"])].version < int(line["product_version"])
        ]
        return reason in ("price_changed", "product_unavailable") and bool(behind)

    def _change(self, order_id: UUID, decide: Callable[[Order], T]) -> T:
        return self.change(lambda: self.get_order(order_id), decide, attempts=MAX_ATTEMPTS)

    def wallet_debited(self, order_id: UUID, amount: int) -> None:
        """Placed with its plan (the shipment, the services: numbers taken from their blocks
        and the account's services noted, in the same save), or a late debit refunded."""
        also: list[Any] = []

        def decide(order: Order) -> None:
            also.clear()
            plan = Plan()
            if order.status == "awaiting_payment" and not order.debited_amount:
                account = self._account(order.account_id)
                plan = plan_order(order.id, order.request["lines"], account.services)
                also.extend(self._numbers(plan))
                account.services_changed(plan.activations, plan.cancellations)
                also.append(account)
                if plan.items:
                    also.append(ShipmentRef(order.id))
            order.debited(amount, plan, self.clock() + self.refund_timeout)

        self.change(
            lambda: self.get_order(order_id), decide, also=lambda: also, attempts=MAX_ATTEMPTS
        )

    def _numbers(self, plan: Plan) -> list[NumberBlock]:
        """Numbers for the plan's phone-number services, from each SKU's block."""
        blocks: dict[str, NumberBlock] = {}
        for service in plan.activations:
            sku = service["sku"]
            if service["kind"] != "phone_number" or sku not in BLOCKS:
                continue
            if sku not in blocks:
                try:
                    blocks[sku] = self.repository.get(NumberBlock.create_id(sku))
                except AggregateNotFoundError:
                    blocks[sku] = NumberBlock(sku)
            service["phone_number"] = blocks[sku].take(1)[0]
        return list(blocks.values())

    def wallet_refunded(self, order_id: UUID) -> None:
        with contextlib.suppress(OrderNotFoundError):  # not an order's refund: nothing to do
            self._change(order_id, lambda order: order.confirm_refund())

    def wallet_debit_rejected(self, order_id: UUID) -> None:
        self._change(order_id, lambda order: order.debit_refused())

    def time_out(self, order_id: UUID) -> bool:
        now = self.clock()
        return self._change(order_id, lambda order: order.time_out(now))

    def refund_overdue(self, order_id: UUID) -> bool:
        now = self.clock()
        became = self._change(order_id, lambda order: order.refund_overdue(now))
        if became:
            INCIDENTS_RECORDED.labels(kind="refund_overdue").inc()
        return became

    def cancel_order(self, order_id: UUID, account_id: UUID) -> Order:
        def decide(order: Order) -> Order:
            if order.account_id != account_id:
                raise OrderNotFoundError
            order.cancel(self.clock() + self.refund_timeout)
            return order

        return self._change(order_id, decide)

    # -- the warehouse ------------------------------------------------------------------

    def order_of_shipment(self, shipment_id: UUID) -> Order:
        try:
            ref: ShipmentRef = self.repository.get(shipment_id)
        except AggregateNotFoundError:
            raise ShipmentNotFoundError from None
        if not isinstance(ref, ShipmentRef):
            raise ShipmentNotFoundError
        return self.get_order(ref.order_id)

    def dispatch(self, shipment_id: UUID, carrier: str, tracking_number: str) -> Order:
        """The warehouse's dispatch report (a repeat changes nothing); a cancelled order's
        shipment is an incident, then refused."""
        order_id = self.order_of_shipment(shipment_id).id

        def decide(order: Order) -> tuple[Order, str, int]:
            before = len(order.incidents)
            return order, order.dispatch(carrier, tracking_number), before

        order, outcome, before = self._change(order_id, decide)
        if outcome == "after_cancel":
            if len(order.incidents) > before:
                INCIDENTS_RECORDED.labels(kind="dispatched_after_cancel").inc()
            raise ShipmentCancelledError
        return order

    def deliver(self, shipment_id: UUID) -> Order:
        order_id = self.order_of_shipment(shipment_id).id
        order, _ = self._change(order_id, lambda order: (order, order.deliver()))
        return order
