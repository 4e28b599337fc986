"""Maps the Order's events to what others consume: the wallet (DebitRequested,
RefundRequested), the cart and identity (OrderPlaced, CheckoutRejected, OrderCancelled,
OrderCompleted, the services), the warehouse (ShipmentRequested, ShipmentCancelled) and
the operators (CompensationFailed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pbx_events.contracts import IntegrationEvent
from pbx_events.fulfillment import (
    CheckoutRejected,
    CompensationFailed,
    DebitRequested,
    OrderCancelled,
    OrderCompleted,
    OrderPlaced,
    RefundRequested,
    ServiceActivated,
    ServiceCancelled,
    ShipmentCancelled,
    ShipmentDelivered,
    ShipmentDispatched,
    ShipmentRequested,
)
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
        if not isinstance(event, Order.Event):
            return []  # the copies, number blocks and shipment refs are fulfillment's own
        order = self._order(event)
        at = event.timestamp
        ids = {"order_id": order.id, "account_id": order.account_id}
        if isinstance(event, Order.DebitRequested):
            return [DebitRequested(**ids, amount=event.amount, requested_at=at)]
        if isinstance(event, Order.Rejected):
            return [_rejected(order, at)]
        if isinstance(event, Order.TimedOut):
            return [
                _rejected(order, at),
                OrderCancelled(**ids, reason="timed_out", refund=0, cancelled_at=at),
            ]
        if isinstance(event, Order.Placed):
            return _placed(order, at)
        if isinstance(event, Order.Completed):
            return [OrderCompleted(**ids, completed_at=at)]
        if isinstance(event, Order.LateDebitRefunded):
            reason = "order_timed_out" if order.reason == "timeout" else "order_cancelled"
            return [RefundRequested(**ids, amount=event.amount, reason=reason, requested_at=at)]
        if isinstance(event, Order.CancelledByCustomer):
            return _cancelled_by_customer(order, event.refund, at)
        if isinstance(event, Order.ShipmentDispatched):
            return [
                ShipmentDispatched(
                    **ids,
                    shipment_id=_shipment_id(order),
                    carrier=event.carrier,
                    tracking_number=event.tracking_number,
                    dispatched_at=at,
                )
            ]
        if isinstance(event, Order.ShipmentDelivered):
            return [ShipmentDelivered(**ids, shipment_id=_shipment_id(order), delivered_at=at)]
        if isinstance(event, Order.Incident):
            return [
                CompensationFailed(
                    **ids,
                    incident_id=UUID(event.incident_id),
                    kind=event.kind,  # type: ignore[arg-type]
                    amount=event.amount,
                    detail=event.detail,
                    detected_at=at,
                )
            ]
        return []


def _shipment_id(order: Order) -> UUID:
    assert order.shipment is not None
    return UUID(order.shipment["shipment_id"])


def _rejected(order: Order, at: datetime) -> CheckoutRejected:
    return CheckoutRejected(
        checkout_id=order.checkout_id,
        account_id=order.account_id,
        reason=order.reason,  # type: ignore[arg-type]
        detail=order.detail,
        rejected_at=at,
    )


def _placed(order: Order, at: datetime) -> list[IntegrationEvent]:
    totals = order.request["totals"]
    ids = {"order_id": order.id, "account_id": order.account_id}
    messages: list[IntegrationEvent] = [
        OrderPlaced(
            **ids,
            checkout_id=order.checkout_id,
            cart_version=int(order.request.get("cart_version", 1)),
            subtotal=int(totals["subtotal"]),
            tax=int(totals["tax"]),
            total=int(totals["total"]),
            placed_at=at,
            lines=order.request["lines"],
            shipping_address=order.request.get("shipping_address") if order.shipment else None,
        )
    ]
    if order.shipment is not None:
        messages.append(
            ShipmentRequested(
                **ids,
                shipment_id=_shipment_id(order),
                items=order.shipment["items"],
                shipping_address=order.request["shipping_address"],
                requested_at=at,
            )
        )
    messages += [
        ServiceActivated(**ids, **service, activated_at=at) for service in order.activations
    ]
    messages += [
        ServiceCancelled(**ids, **service, cancelled_at=at) for service in order.cancellations
    ]
    return messages


def _cancelled_by_customer(order: Order, refund: int, at: datetime) -> list[IntegrationEvent]:
    ids = {"order_id": order.id, "account_id": order.account_id}
    messages: list[IntegrationEvent] = [
        OrderCancelled(**ids, reason="customer", refund=refund, cancelled_at=at)
    ]
    if refund:
        messages.append(
            RefundRequested(**ids, amount=refund, reason="order_cancelled", requested_at=at)
        )
    if order.shipment is not None:
        messages.append(
            ShipmentCancelled(
                **ids, shipment_id=_shipment_id(order), reason="order_cancelled", cancelled_at=at
            )
        )
    return messages
