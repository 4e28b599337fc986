"""The order read model: follows fulfillment's notification log into rows.

Each batch becomes one row per Order it touched (the order as it is now: its status, its
shipment, the payment deadline while it waits for the wallet, the refund pending and its
due time, the incidents, and the ``OrderOut`` the routes answer with); the rows and the
position commit together (an ``OrderStore``: a PostgreSQL table, or memory on the
in-memory stack), so a process resumes where the store got to and start-up reads only
what is new. Every process follows the log (LISTEN/NOTIFY), so a change made anywhere
shows everywhere within moments. The other aggregates of the store (the copies, the
number blocks, the shipment references) are not rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import anyio
import structlog

from pbx_events.relay import FollowerSettings, LogFollower
from pbx_fulfillment.api import order_out
from pbx_fulfillment.application import FulfillmentService
from pbx_fulfillment.domain.order import Order

log = structlog.get_logger("pbx.fulfillment.projection")

_ORDER_EVENTS = f"{Order.__module__}:{Order.__qualname__}."


@dataclass(frozen=True)
class OrderRow:
    """An order's row as of notification ``position``; ``order`` is its ``OrderOut``
    (JSON), what the lists answer with."""

    position: int
    order_id: UUID
    account_id: UUID
    status: str
    created_at: datetime
    shipment_id: UUID | None
    shipment_status: str | None
    #: the payment deadline, while the order waits for the wallet
    deadline: datetime | None
    refund_pending: bool
    refund_due_by: datetime | None
    incidents: list[dict[str, Any]]
    order: dict[str, Any]


def order_row(app: FulfillmentService, position: int, order: Order) -> OrderRow:
    shipment = order.shipment
    return OrderRow(
        position=position,
        order_id=order.id,
        account_id=order.account_id,
        status=order.status,
        created_at=order.created_on,
        shipment_id=UUID(str(shipment["shipment_id"])) if shipment is not None else None,
        shipment_status=str(shipment["status"]) if shipment is not None else None,
        deadline=order.deadline if order.status == "awaiting_payment" else None,
        refund_pending=order.refund_pending,
        refund_due_by=order.refund_due_by,
        incidents=[dict(i) for i in order.incidents],
        order=order_out(app, order).model_dump(mode="json"),
    )


def is_order_event(event: Any) -> bool:
    cls = type(event)
    return f"{cls.__module__}:{cls.__qualname__}".startswith(_ORDER_EVENTS)


class OrderProjection(LogFollower):
    """Keeps an ``OrderStore`` (memory or PostgreSQL) current with the fulfillment log."""

    def __init__(
        self, app: FulfillmentService, store: Any, settings: FollowerSettings | None = None
    ) -> None:
        super().__init__(app, "projection:orders", settings)
        self.fulfillment = app
        self.store = store
        self._saved = 0

    async def start(self) -> None:
        """Resume from where the store got to (the store saves it with the rows)."""
        self._saved = await self.store.position()

    def load_position(self) -> int:
        return self._saved

    def store_position(self, position: int) -> None:
        # already saved with the rows, in handle_batch; a concurrent catch-up may have
        # gone further
        self._saved = max(self._saved, position)

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> list[OrderRow]:
        last: dict[UUID, int] = {}  # each order once, at its last event in the batch
        for position, event in batch:
            if is_order_event(event):
                last[event.originator_id] = position
        return [
            order_row(self.fulfillment, position, self.fulfillment.get_order(order_id))
            for order_id, position in last.items()
        ]

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        rows = prepared if prepared is not None else self.prepare(batch)
        await self.store.apply(rows, batch[-1][0])

    async def catch_up(self) -> None:
        """Read your writes: a list read right after a change in this service (in any
        process) applies what the log has beyond the store first, when that is one batch
        at most (a reader never waits for a backlog: the loop has it). Best effort: when
        it fails, the list is read as the store has it."""
        try:
            head = await anyio.to_thread.run_sync(self.fulfillment.max_notification_id)
            if 0 < head - self._saved <= self.settings.batch_size:
                await self.run_once()
        except Exception as exc:
            log.warning("projection_catch_up_failed", follower=self.name, error=repr(exc))

    async def rebuild(self) -> int:
        """Empty the read model and apply the whole log again (one transaction: readers
        see the old rows until it commits); returns the position reached."""
        self._saved = await self.store.rebuild(self._from_zero())
        return self._saved

    async def _from_zero(self) -> AsyncIterator[tuple[list[OrderRow], int]]:
        position = 0
        while True:
            last, batch, prepared = await anyio.to_thread.run_sync(self._read, position)
            if not batch:
                return
            yield prepared, last
            position = last
