"""The fulfillment application: the checkout saga. Each answer it consumes is load →
decide → save on the Order; what the Order records the relay publishes (DebitRequested,
OrderPlaced, CheckoutRejected, RefundRequested). Decided from its own copies, never by
asking another service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from pbx_events.store import ServiceApplication
from pbx_fulfillment.domain.checks import AccountFacts, ProductFacts, check_checkout
from pbx_fulfillment.domain.copies import AccountFactsCopy, ProductFactsCopy
from pbx_fulfillment.domain.order import Order
from pbx_kit.errors import NotFoundError

T = TypeVar("T")
MAX_ATTEMPTS = 50
#: no answer from the wallet within this long cancels the order (a setting)
PAYMENT_TIMEOUT = timedelta(minutes=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


class OrderNotFoundError(NotFoundError):
    code = "order_not_found"
    message_ja = "指定されたご注文が見つかりません。"


class FulfillmentService(ServiceApplication):
    name = "fulfillment"

    def __init__(
        self,
        env: dict[str, str],
        *,
        clock: Callable[[], datetime] = utc_now,
        payment_timeout: timedelta = PAYMENT_TIMEOUT,
    ) -> None:
        super().__init__(env=env)
        self.clock = clock
        self.payment_timeout = payment_timeout

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
        try:
            account: AccountFactsCopy = self.repository.get(AccountFactsCopy.create_id(account_id))
            facts = AccountFacts(screening=account.screening, circles=account.active_circles())
        except AggregateNotFoundError:
            facts = AccountFacts()
        return products, facts

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
        refusal = check_checkout(list(request["lines"]), products, account)
        if refusal is not None:
            order.refuse(refusal.reason, refusal.detail)
        else:
            order.ask_for_payment(self.clock() + self.payment_timeout)
        self.save(order)

    def _change(self, order_id: UUID, decide: Callable[[Order], T]) -> T:
        return self.change(lambda: self.get_order(order_id), decide, attempts=MAX_ATTEMPTS)

    def wallet_debited(self, order_id: UUID, amount: int) -> None:
        self._change(order_id, lambda order: order.debited(amount))

    def wallet_debit_rejected(self, order_id: UUID) -> None:
        self._change(order_id, lambda order: order.debit_refused())

    def time_out(self, order_id: UUID) -> bool:
        now = self.clock()
        return self._change(order_id, lambda order: order.time_out(now))

    def cancel_order(self, order_id: UUID, account_id: UUID) -> Order:
        def decide(order: Order) -> Order:
            if order.account_id != account_id:
                raise OrderNotFoundError
            order.cancel()
            return order

        return self._change(order_id, decide)

    def _orders(self, event_name: str) -> list[UUID]:
        topic = f"{Order.__module__}:{Order.__qualname__}.{event_name}"
        notifications = self.recorder.select_notifications(
            start=None, limit=1_000_000, topics=[topic]
        )
        return list(dict.fromkeys(UUID(str(n.originator_id)) for n in notifications))

    def orders_of(self, account_id: UUID) -> list[Order]:
        """An account's orders, newest first (a scan of the orders' first events)."""
        orders = [self.get_order(i) for i in self._orders("Requested")]
        mine = [o for o in orders if o.account_id == account_id]
        return sorted(mine, key=lambda o: o.created_on, reverse=True)

    def awaiting_payment(self) -> list[UUID]:
        """Orders still waiting for the wallet (the timer's candidates)."""
        ids = self._orders("DebitRequested")
        return [i for i in ids if self.get_order(i).status == "awaiting_payment"]
