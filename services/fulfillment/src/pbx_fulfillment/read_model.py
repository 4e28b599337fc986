"""Where the order lists live: a PostgreSQL table (asyncpg), or memory (in-memory stack).

Both stores apply the projection's rows idempotently (a row at or below the saved
position is skipped), can be emptied and rebuilt from the log in one go, and answer the
same questions in the same order: an account's orders newest first, the shipments oldest
first, the orders past their payment deadline, the refunds past their due time, the
incidents (oldest order first). Ties on the time go by order id.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

import asyncpg

from pbx_kit.read_models import PostgresReadModel

if TYPE_CHECKING:
    from pbx_fulfillment.projections import OrderRow

#: what an incident in the list carries besides the incident itself
Incident = dict[str, Any]


class OrderStore(Protocol):
    async def setup(self) -> None: ...
    async def position(self) -> int: ...
    async def apply(self, rows: Sequence[OrderRow], position: int) -> None: ...
    async def rebuild(self, batches: AsyncIterator[tuple[list[OrderRow], int]]) -> int: ...
    async def orders(
        self, account_id: UUID, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]: ...
    async def shipments(
        self, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]: ...
    async def awaiting_payment(self, now: datetime) -> list[UUID]: ...
    async def refunds_due(self, now: datetime) -> list[UUID]: ...
    async def incidents(self) -> list[Incident]: ...
    async def incident_counts(self) -> dict[str, int]: ...


def _incidents(row: OrderRow) -> list[Incident]:
    return [
        {"order_id": str(row.order_id), "account_id": str(row.account_id), **incident}
        for incident in row.incidents
    ]


class MemoryOrderStore:
    """The order lists in memory (the in-memory event store's companion)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = 0
        self._rows: dict[UUID, OrderRow] = {}

    async def setup(self) -> None:
        return None

    async def position(self) -> int:
        return self._position

    async def apply(self, rows: Sequence[OrderRow], position: int) -> None:
        with self._lock:
            for row in rows:
                if row.position > self._position:
                    self._rows[row.order_id] = row
            self._position = max(self._position, position)

    async def rebuild(self, batches: AsyncIterator[tuple[list[OrderRow], int]]) -> int:
        fresh: dict[UUID, OrderRow] = {}
        position = 0
        async for rows, last in batches:
            for row in rows:
                fresh[row.order_id] = row
            position = last
        with self._lock:
            self._rows, self._position = fresh, position
        return position

    def _all(self) -> list[OrderRow]:
        with self._lock:
            return list(self._rows.values())

    async def orders(
        self, account_id: UUID, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        rows = [r for r in self._all() if r.account_id == account_id]
        rows.sort(key=lambda r: (r.created_at, r.order_id), reverse=True)
        end = None if limit is None else offset + limit
        return [dict(r.order) for r in rows[offset:end]]

    async def shipments(
        self, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self._all()
            if r.shipment_id is not None and status in (None, r.shipment_status)
        ]
        rows.sort(key=lambda r: (r.created_at, r.order_id))
        end = None if limit is None else offset + limit
        return [dict(r.order["shipment"]) for r in rows[offset:end]]

    async def awaiting_payment(self, now: datetime) -> list[UUID]:
        rows = [
            r
            for r in self._all()
            if r.status == "awaiting_payment" and r.deadline is not None and r.deadline <= now
        ]
        return [r.order_id for r in sorted(rows, key=lambda r: (r.deadline, r.order_id))]

    async def refunds_due(self, now: datetime) -> list[UUID]:
        rows = [
            r
            for r in self._all()
            if r.refund_pending and r.refund_due_by is not None and r.refund_due_by <= now
        ]
        return [r.order_id for r in sorted(rows, key=lambda r: (r.refund_due_by, r.order_id))]

    async def incidents(self) -> list[Incident]:
        rows = sorted((r for r in self._all() if r.incidents), key=_oldest)
        return [incident for r in rows for incident in _incidents(r)]

    async def incident_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._all():
            for incident in row.incidents:
                counts[incident["kind"]] = counts.get(incident["kind"], 0) + 1
        return counts


def _oldest(row: OrderRow) -> tuple[datetime, UUID]:
    return row.created_at, row.order_id


_SCHEMA = """
CREATE TABLE IF NOT EXISTS {s}.rm_orders (
    order_id uuid PRIMARY KEY, account_id uuid NOT NULL, status text NOT NULL,
    created_at timestamptz NOT NULL, shipment_id uuid, shipment_status text,
    deadline timestamptz, refund_pending boolean NOT NULL, refund_due_by timestamptz,
    incidents jsonb NOT NULL, "order" jsonb NOT NULL, position bigint NOT NULL);
CREATE INDEX IF NOT EXISTS rm_orders_account
    ON {s}.rm_orders (account_id, created_at DESC, order_id DESC);
CREATE INDEX IF NOT EXISTS rm_orders_shipments_by_status
    ON {s}.rm_orders (shipment_status, created_at, order_id) WHERE shipment_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS rm_orders_shipments
    ON {s}.rm_orders (created_at, order_id) WHERE shipment_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS rm_orders_awaiting_payment
    ON {s}.rm_orders (deadline, order_id) WHERE status = 'awaiting_payment';
CREATE INDEX IF NOT EXISTS rm_orders_refunds_pending
    ON {s}.rm_orders (refund_due_by, order_id) WHERE refund_pending;
CREATE INDEX IF NOT EXISTS rm_orders_incidents
    ON {s}.rm_orders (created_at, order_id) WHERE incidents <> '[]'::jsonb;
"""


class PostgresOrderStore(PostgresReadModel):
    """The order lists in fulfillment's schema, written in one transaction per batch."""

    name = "orders"
    ddl = _SCHEMA

    def __init__(self, pool: asyncpg.Pool, schema: str = "fulfillment") -> None:
        super().__init__(pool, schema)

    async def _upsert(self, conn: Any, rows: Sequence[OrderRow]) -> None:
        await conn.executemany(
            f'INSERT INTO "{self.s}".rm_orders VALUES '
            "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12) "
            "ON CONFLICT (order_id) DO UPDATE SET account_id = EXCLUDED.account_id, "
            "status = EXCLUDED.status, created_at = EXCLUDED.created_at, "
            "shipment_id = EXCLUDED.shipment_id, shipment_status = EXCLUDED.shipment_status, "
            "deadline = EXCLUDED.deadline, refund_pending = EXCLUDED.refund_pending, "
            "refund_due_by = EXCLUDED.refund_due_by, incidents = EXCLUDED.incidents, "
            '"order" = EXCLUDED."order", position = EXCLUDED.position',
            [
                (
                    r.order_id,
                    r.account_id,
                    r.status,
                    r.created_at,
                    r.shipment_id,
                    r.shipment_status,
                    r.deadline,
                    r.refund_pending,
                    r.refund_due_by,
                    json.dumps(r.incidents),
                    json.dumps(r.order),
                    r.position,
                )
                for r in rows
            ],
        )

    async def apply(self, rows: Sequence[OrderRow], position: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            saved = await self.locked_position(conn)
            # a batch another process applied already is skipped
            await self._upsert(conn, [r for r in rows if r.position > saved])
            if position > saved:
                await self.save_position(conn, position)

    async def rebuild(self, batches: AsyncIterator[tuple[list[OrderRow], int]]) -> int:
        position = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await self.locked_position(conn)
            await conn.execute(f'DELETE FROM "{self.s}".rm_orders')
            async for rows, last in batches:
                await self._upsert(conn, rows)
                position = last
            await self.save_position(conn, position)
        return position

    async def orders(
        self, account_id: UUID, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            f'SELECT "order" FROM "{self.s}".rm_orders WHERE account_id = $1 '
            "ORDER BY created_at DESC, order_id DESC LIMIT $2 OFFSET $3",
            account_id,
            limit,
            offset,
        )
        return [json.loads(r["order"]) for r in rows]

    async def shipments(
        self, status: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        where = "shipment_id IS NOT NULL"
        args: list[Any] = [limit, offset]
        if status is not None:
            where += " AND shipment_status = $3"
            args.append(status)
        rows = await self.pool.fetch(
            f"""SELECT "order"->'shipment' AS shipment FROM "{self.s}".rm_orders WHERE {where} """
            "ORDER BY created_at, order_id LIMIT $1 OFFSET $2",
            *args,
        )
        return [json.loads(r["shipment"]) for r in rows]

    async def awaiting_payment(self, now: datetime) -> list[UUID]:
        rows = await self.pool.fetch(
            f'SELECT order_id FROM "{self.s}".rm_orders '
            "WHERE status = 'awaiting_payment' AND deadline <= $1 ORDER BY deadline, order_id",
            now,
        )
        return [UUID(str(r["order_id"])) for r in rows]

    async def refunds_due(self, now: datetime) -> list[UUID]:
        rows = await self.pool.fetch(
            f'SELECT order_id FROM "{self.s}".rm_orders '
            "WHERE refund_pending AND refund_due_by <= $1 ORDER BY refund_due_by, order_id",
            now,
        )
        return [UUID(str(r["order_id"])) for r in rows]

    async def incidents(self) -> list[Incident]:
        rows = await self.pool.fetch(
            f'SELECT order_id, account_id, incidents FROM "{self.s}".rm_orders '
            "WHERE incidents <> '[]'::jsonb ORDER BY created_at, order_id"
        )
        return [
            {"order_id": str(r["order_id"]), "account_id": str(r["account_id"]), **incident}
            for r in rows
            for incident in json.loads(r["incidents"])
        ]

    async def incident_counts(self) -> dict[str, int]:
        rows = await self.pool.fetch(
            "SELECT i->>'kind' AS kind, count(*) AS n "
            f'FROM "{self.s}".rm_orders, jsonb_array_elements(incidents) AS i '
            "WHERE incidents <> '[]'::jsonb GROUP BY 1"
        )
        return {r["kind"]: int(r["n"]) for r in rows}
