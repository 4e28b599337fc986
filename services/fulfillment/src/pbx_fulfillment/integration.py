"""Maps the Order's events to what others consume: the wallet (DebitRequested,
RefundRequested), the cart and identity (OrderPlaced, CheckoutRejected)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pbx_events.contracts import IntegrationEvent
from pbx_events.fulfillment import CheckoutRejected, DebitRequested, OrderPlaced, RefundRequested
from pbx_events.store import ServiceApplication
from pbx_fulfillment.domain.order import Order


class FulfillmentMapping:
    def __init__(self, app: ServiceApplication) -> None:
        self.app = app

    def _order(self, event: Any) -> Order:
        order: Order = self.app.repository.get(
            event.originator_id, version=event.originator_version
        )
        return order

    def __call__(self, event: Any) -> Sequence[IntegrationEvent]:
        at = event.timestamp
        if isinstance(event, Order.DebitRequested):
            order = self._order(event)
            return [
                DebitRequested(
                    account_id=order.account_id,
                    order_id=order.id,
                    amount=event.amount,
                    requested_at=at,
                )
            ]
        if isinstance(event, Order.Rejected | Order.TimedOut):
            order = self._order(event)
            return [
                CheckoutRejected(
                    checkout_id=order.checkout_id,
                    account_id=order.account_id,
                    reason=order.reason,  # type: ignore[arg-type]
                    detail=order.detail,
                    rejected_at=at,
                )
            ]
        if isinstance(event, Order.Placed):
            order = self._order(event)
            totals = order.request["totals"]
            return [
                OrderPlaced(
                    order_id=order.id,
                    checkout_id=order.checkout_id,
                    account_id=order.account_id,
                    cart_version=int(order.request.get("cart_version", 1)),
                    subtotal=int(totals["subtotal"]),
                    tax=int(totals["tax"]),
                    total=int(totals["total"]),
                    placed_at=at,
                )
            ]
        if isinstance(event, Order.LateDebitRefunded | Order.CancelledByCustomer):
            order = self._order(event)
            amount = event.amount if isinstance(event, Order.LateDebitRefunded) else event.refund
            reason = "order_timed_out" if order.reason == "timeout" else "order_cancelled"
            return [
                RefundRequested(
                    account_id=order.account_id,
                    order_id=order.id,
                    amount=amount,
                    reason=reason,  # type: ignore[arg-type]
                    requested_at=at,
                )
            ]
        return []
