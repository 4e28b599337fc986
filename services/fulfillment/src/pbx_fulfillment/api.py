"""Fulfillment routes: a customer's orders (newest first) and their cancellation before
dispatch. Thin: request → application → response."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from pbx_fulfillment.application import FulfillmentService, OrderNotFoundError
from pbx_fulfillment.domain.order import Order
from pbx_kit.auth import Caller, require_roles
from pbx_kit.problems import problem_responses

router = APIRouter(tags=["orders"])
CustomerDep = Annotated[Caller, Depends(require_roles("customer"))]


def get_app(request: Request) -> FulfillmentService:
    app: FulfillmentService = request.app.state.application
    return app


AppDep = Annotated[FulfillmentService, Depends(get_app)]


class OrderOut(BaseModel):
    order_id: UUID
    status: Literal["requested", "awaiting_payment", "placed", "rejected", "cancelled"]
    reason: str | None = Field(description="why it was rejected or cancelled")
    lines: list[dict[str, Any]]
    totals: dict[str, Any]
    shipping_address: dict[str, Any] | None
    requested_at: datetime | None
    dispatched: bool
    refunded: int = Field(description="yen given back")


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        order_id=order.id,
        status=order.status,  # type: ignore[arg-type]
        reason=order.reason or None,
        lines=list(order.request["lines"]),
        totals=dict(order.request["totals"]),
        shipping_address=order.request.get("shipping_address"),
        requested_at=order.created_on,
        dispatched=order.dispatched,
        refunded=order.refunded,
    )


def _own(app: FulfillmentService, order_id: UUID, caller: Caller) -> Order:
    order = app.get_order(order_id)
    if order.account_id != caller.subject_uuid:
        raise OrderNotFoundError  # another customer's order does not exist for them
    return order


@router.get("/orders", response_model=list[OrderOut], responses=problem_responses(401, 403))
def my_orders(
    caller: CustomerDep,
    app: AppDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> list[OrderOut]:
    """Your orders, newest first."""
    orders = app.orders_of(caller.subject_uuid)
    return [order_out(o) for o in orders[offset : offset + limit]]


@router.get(
    "/orders/{order_id}",
    response_model=OrderOut,
    responses=problem_responses(401, 403, 404, s404="no such order of yours"),
)
def my_order(order_id: UUID, caller: CustomerDep, app: AppDep) -> OrderOut:
    return order_out(_own(app, order_id, caller))


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    responses=problem_responses(401, 403, 404, 409, s409="already_dispatched, not cancellable"),
)
def cancel_my_order(order_id: UUID, caller: CustomerDep, app: AppDep) -> OrderOut:
    """Cancel before dispatch: everything is refunded to the wallet."""
    _own(app, order_id, caller)
    return order_out(app.cancel_order(order_id, caller.subject_uuid))
