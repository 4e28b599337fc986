"""Fulfillment routes: a customer's orders (newest first) and their cancellation before
dispatch; the warehouse's shipments and its reports; the operators' incidents. Thin:
request → application → response. The lists (a customer's orders, the shipments, the
incidents) read the order read model (``read_model.py``), caught up first with what this
service just recorded; one order, and every command, reads the order itself."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from pbx_fulfillment.application import FulfillmentService, OrderNotFoundError
from pbx_fulfillment.domain.order import Order
from pbx_fulfillment.read_model import OrderStore
from pbx_kit.auth import Caller, require_roles
from pbx_kit.problems import problem_responses

router = APIRouter()
CustomerDep = Annotated[Caller, Depends(require_roles("customer"))]
WarehouseDep = Annotated[Caller, Depends(require_roles("warehouse", "admin"))]
OperatorDep = Annotated[Caller, Depends(require_roles("admin", "auditor"))]

OrderStatus = Literal[
    "requested", "awaiting_payment", "placed", "completed", "rejected", "cancelled"
]
ShipmentStatus = Literal["requested", "dispatched", "delivered", "cancelled"]
#: the carriers the warehouse hands parcels to (配送業者)
Carrier = Literal["yamato", "sagawa", "japan_post", "seino", "fukuyama"]


def get_app(request: Request) -> FulfillmentService:
    app: FulfillmentService = request.app.state.application
    return app


async def get_store(request: Request) -> OrderStore:
    """The order read model, caught up with what the log has beyond it (read your
    writes)."""
    await request.app.state.order_projection.catch_up()
    store: OrderStore = request.app.state.order_store
    return store


AppDep = Annotated[FulfillmentService, Depends(get_app)]
StoreDep = Annotated[OrderStore, Depends(get_store)]

#: the order's stored events as its status timeline
_TIMELINE = {
    "Requested": "requested",
    "DebitRequested": "awaiting_payment",
    "Placed": "placed",
    "Rejected": "rejected",
    "TimedOut": "cancelled",
    "CancelledByCustomer": "cancelled",
    "LateDebitRefunded": "refund_requested",
    "RefundConfirmed": "refunded",
    "ShipmentDispatched": "dispatched",
    "ShipmentDelivered": "delivered",
    "Completed": "completed",
}


class TimelineEntry(BaseModel):
    status: str = Field(description="requested, awaiting_payment, placed, dispatched, …")
    at: datetime


class ShipmentOut(BaseModel):
    shipment_id: UUID
    order_id: UUID
    status: ShipmentStatus
    items: list[dict[str, Any]]
    carrier: str | None
    tracking_number: str | None


class ServiceOut(BaseModel):
    service_id: UUID
    kind: str = Field(description="unique, phone_number or rental")
    action: Literal["activated", "cancelled"]
    circle_id: UUID | None
    sku: str | None = None
    name: str | None = None
    phone_number: str | None = None


class OrderOut(BaseModel):
    order_id: UUID
    status: OrderStatus
    reason: str | None = Field(description="why it was rejected or cancelled")
    lines: list[dict[str, Any]]
    totals: dict[str, Any]
    shipping_address: dict[str, Any] | None
    requested_at: datetime | None
    timeline: list[TimelineEntry]
    shipment: ShipmentOut | None
    services: list[ServiceOut]
    dispatched: bool
    refunded: int = Field(description="yen given back")
    refund_confirmed: bool = Field(description="the wallet confirmed the refund")


def shipment_out(order: Order) -> ShipmentOut | None:
    if order.shipment is None:
        return None
    shipment = order.shipment
    return ShipmentOut(
        shipment_id=shipment["shipment_id"],
        order_id=order.id,
        status=shipment["status"],
        items=shipment["items"],
        carrier=shipment["carrier"],
        tracking_number=shipment["tracking_number"],
    )


def order_out(app: FulfillmentService, order: Order) -> OrderOut:
    events: list[Any] = list(app.repository.event_store.get(order.id, lte=order.version))
    timeline = [
        TimelineEntry(status=_TIMELINE[type(e).__name__], at=e.timestamp)
        for e in events
        if type(e).__name__ in _TIMELINE
    ]
    services = [ServiceOut(**s, action="activated") for s in order.activations] + [
        ServiceOut(**s, action="cancelled") for s in order.cancellations
    ]
    return OrderOut(
        order_id=order.id,
        status=order.status,  # type: ignore[arg-type]
        reason=order.reason or None,
        lines=list(order.request["lines"]),
        totals=dict(order.request["totals"]),
        shipping_address=order.request.get("shipping_address"),
        requested_at=order.created_on,
        timeline=timeline,
        shipment=shipment_out(order),
        services=services,
        dispatched=order.dispatched,
        refunded=order.refunded,
        refund_confirmed=order.refund_confirmed,
    )


def _own(app: FulfillmentService, order_id: UUID, caller: Caller) -> Order:
    order = app.get_order(order_id)
    if order.account_id != caller.subject_uuid:
        raise OrderNotFoundError  # another customer's order does not exist for them
    return order


# -- the customer ------------------------------------------------------------------------


@router.get(
    "/orders", response_model=list[OrderOut], responses=problem_responses(401, 403), tags=["orders"]
)
async def my_orders(
    caller: CustomerDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[OrderOut]:
    """Your orders, newest first."""
    rows = await store.orders(caller.subject_uuid, limit, offset)
    return [OrderOut.model_validate(row) for row in rows]


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    responses=problem_responses(401, 403, 404, s404="no such order of yours"),
    tags=["orders"],
)
def my_order(order_id: UUID, caller: CustomerDep, app: AppDep) -> OrderOut:
    """One of your orders: lines, totals, its status timeline, the shipment with carrier and
    tracking number, the services it activated or cancelled."""
    return order_out(app, _own(app, order_id, caller))


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    responses=problem_responses(401, 403, 404, 409, s409="already_dispatched, not cancellable"),
    tags=["orders"],
)
def cancel_my_order(order_id: UUID, caller: CustomerDep, app: AppDep) -> OrderOut:
    """Cancel before dispatch: everything is refunded to the wallet, the shipment called
    off."""
    _own(app, order_id, caller)
    return order_out(app, app.cancel_order(order_id, caller.subject_uuid))


# -- the warehouse -----------------------------------------------------------------------


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: Carrier
    tracking_number: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z-]{3,39}$")


@router.get(
    "/shipments",
    response_model=list[ShipmentOut],
    responses=problem_responses(401, 403),
    tags=["warehouse"],
)
async def shipments(
    caller: WarehouseDep,
    store: StoreDep,
    status: ShipmentStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[ShipmentOut]:
    """Shipments (oldest first), e.g. ``?status=requested``: what is still to be packed.
    The address is in the ShipmentRequested message the warehouse consumes."""
    rows = await store.shipments(status, limit, offset)
    return [ShipmentOut.model_validate(row) for row in rows]


@router.post(
    "/shipments/{shipment_id}/dispatch",
    response_model=ShipmentOut,
    responses=problem_responses(
        401, 403, 404, 409, s409="shipment_cancelled (recorded as an incident)"
    ),
    tags=["warehouse"],
)
def dispatch(shipment_id: UUID, body: DispatchIn, caller: WarehouseDep, app: AppDep) -> ShipmentOut:
    """The shipment was handed to a carrier. A repeated report changes nothing."""
    shipment = shipment_out(app.dispatch(shipment_id, body.carrier, body.tracking_number))
    assert shipment is not None
    return shipment


@router.post(
    "/shipments/{shipment_id}/deliver",
    response_model=ShipmentOut,
    responses=problem_responses(
        401, 403, 404, 409, s409="shipment_not_dispatched, shipment_cancelled"
    ),
    tags=["warehouse"],
)
def deliver(shipment_id: UUID, caller: WarehouseDep, app: AppDep) -> ShipmentOut:
    """The carrier delivered it (the order completes). A repeated report changes nothing;
    before the dispatch report: 409 ``shipment_not_dispatched``."""
    shipment = shipment_out(app.deliver(shipment_id))
    assert shipment is not None
    return shipment


# -- the operators -----------------------------------------------------------------------


class IncidentOut(BaseModel):
    incident_id: UUID
    order_id: UUID
    account_id: UUID
    kind: str = Field(description="refund_overdue, dispatched_after_cancel")
    amount: int
    detail: str


@router.get(
    "/incidents",
    response_model=list[IncidentOut],
    responses=problem_responses(401, 403),
    tags=["operations"],
)
async def incidents(caller: OperatorDep, store: StoreDep) -> list[IncidentOut]:
    """Compensations that did not happen as they should (also CompensationFailed events and
    the ``pbx_fulfillment_incidents`` gauge)."""
    return [IncidentOut.model_validate(row) for row in await store.incidents()]
