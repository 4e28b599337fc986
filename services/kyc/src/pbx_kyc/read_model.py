"""Where the reviews by status live: a PostgreSQL table (asyncpg), or memory (in-memory stack).

Both stores apply the projection's changes idempotently (a change at or below
the saved position is skipped), can be emptied and rebuilt from the log in one
go, and answer the same questions the same way: a queue, oldest submission
first (never submitted last, then by review id), without the reviewer's own
account; and the approvals whose validity ended before a day (the expiry timer's).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import date
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from pbx_kit.read_models import PostgresReadModel
from pbx_kyc.projections import ReviewChange, ReviewRow


class ReviewStore(Protocol):
    async def setup(self) -> None: ...
    async def position(self) -> int: ...
    async def apply(self, changes: Sequence[ReviewChange], position: int) -> None: ...
    async def rebuild(self, batches: AsyncIterator[tuple[list[ReviewChange], int]]) -> int: ...
    async def with_status(self, status: str, excluding: UUID | None = None) -> list[ReviewRow]: ...
    async def approvals_ending_before(self, today: date) -> list[UUID]: ...


def _queue_order(row: ReviewRow) -> tuple[bool, float, str]:
    stamp = row.submitted_at.timestamp() if row.submitted_at else 0.0
    return row.submitted_at is None, stamp, str(row.review_id)


def _merge(rows: dict[UUID, ReviewRow], change: ReviewChange) -> None:
    row = change.row
    previous = rows.get(row.review_id)
    if row.submitted_at is None and previous is not None:
        row = dataclasses.replace(row, submitted_at=previous.submitted_at)
    rows[row.review_id] = row


class MemoryReviewStore:
    """The reviews by status in memory (the in-memory event store's companion)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = 0
        self._rows: dict[UUID, ReviewRow] = {}

    async def setup(self) -> None:
        return None

    async def position(self) -> int:
        return self._position

    async def apply(self, changes: Sequence[ReviewChange], position: int) -> None:
        with self._lock:
            for change in changes:
                if change.position > self._position:
                    _merge(self._rows, change)
            self._position = max(self._position, position)

    async def rebuild(self, batches: AsyncIterator[tuple[list[ReviewChange], int]]) -> int:
        fresh: dict[UUID, ReviewRow] = {}
        position = 0
        async for changes, last in batches:
            for change in changes:
                _merge(fresh, change)
            position = last
        with self._lock:
            self._rows, self._position = fresh, position
        return position

    async def with_status(self, status: str, excluding: UUID | None = None) -> list[ReviewRow]:
        with self._lock:
            rows = [
                r for r in self._rows.values() if r.status == status and r.account_id != excluding
            ]
        return sorted(rows, key=_queue_order)

    async def approvals_ending_before(self, today: date) -> list[UUID]:
        with self._lock:
            return [
                r.review_id
                for r in self._rows.values()
                if r.status == "approved" and r.valid_until is not None and r.valid_until < today
            ]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS {s}.rm_reviews (
    review_id uuid PRIMARY KEY, account_id uuid NOT NULL, status text NOT NULL,
    revision integer NOT NULL, submitted_at timestamptz, valid_until date,
    position bigint NOT NULL);
CREATE INDEX IF NOT EXISTS rm_reviews_queue ON {s}.rm_reviews (status, submitted_at, review_id);
CREATE INDEX IF NOT EXISTS rm_reviews_approved ON {s}.rm_reviews (valid_until)
    WHERE status = 'approved';
"""


class PostgresReviewStore(PostgresReadModel):
    """The reviews by status in the kyc schema, written in one transaction per batch."""

    name = "reviews"
    ddl = _SCHEMA

    def __init__(self, pool: asyncpg.Pool, schema: str = "kyc") -> None:
        super().__init__(pool, schema)

    async def _upsert(self, conn: Any, changes: Sequence[ReviewChange]) -> None:
        await conn.executemany(
            f'INSERT INTO "{self.s}".rm_reviews AS r VALUES ($1, $2, $3, $4, $5, $6, $7) '
            "ON CONFLICT (review_id) DO UPDATE SET account_id = EXCLUDED.account_id, "
            "status = EXCLUDED.status, revision = EXCLUDED.revision, "
            "submitted_at = coalesce(EXCLUDED.submitted_at, r.submitted_at), "
            "valid_until = EXCLUDED.valid_until, position = EXCLUDED.position",
            [
                (
                    c.row.review_id,
                    c.row.account_id,
                    c.row.status,
                    c.row.revision,
                    c.row.submitted_at,
                    c.row.valid_until,
                    c.position,
                )
                for c in changes
            ],
        )

    async def apply(self, changes: Sequence[ReviewChange], position: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            saved = await self.locked_position(conn)
            # a batch another process applied already is skipped
            await self._upsert(conn, [c for c in changes if c.position > saved])
            if position > saved:
                await self.save_position(conn, position)

    async def rebuild(self, batches: AsyncIterator[tuple[list[ReviewChange], int]]) -> int:
        position = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await self.locked_position(conn)
            await conn.execute(f'DELETE FROM "{self.s}".rm_reviews')
            async for changes, last in batches:
                await self._upsert(conn, changes)
                position = last
            await self.save_position(conn, position)
        return position

    async def with_status(self, status: str, excluding: UUID | None = None) -> list[ReviewRow]:
        rows = await self.pool.fetch(
            "SELECT review_id, account_id, status, revision, submitted_at, valid_until "
            f'FROM "{self.s}".rm_reviews WHERE status = $1 AND account_id IS DISTINCT FROM $2 '
            "ORDER BY submitted_at NULLS LAST, review_id",
            status,
            excluding,
        )
        return [_row(r) for r in rows]

    async def approvals_ending_before(self, today: date) -> list[UUID]:
        rows = await self.pool.fetch(
            f'SELECT review_id FROM "{self.s}".rm_reviews '
            "WHERE status = 'approved' AND valid_until < $1 ORDER BY valid_until, review_id",
            today,
        )
        # asyncpg's UUID is a subclass the event store cannot encode: plain UUIDs
        return [UUID(str(r["review_id"])) for r in rows]


def _row(record: Any) -> ReviewRow:
    return ReviewRow(
        review_id=UUID(str(record["review_id"])),
        account_id=UUID(str(record["account_id"])),
        status=record["status"],
        revision=int(record["revision"]),
        submitted_at=record["submitted_at"],
        valid_until=record["valid_until"],
    )
