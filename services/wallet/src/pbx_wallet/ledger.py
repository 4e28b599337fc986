"""Where the ledger read model lives: PostgreSQL tables (asyncpg), or memory (tests).

Both stores apply the projection's row changes idempotently (each carries its
notification id; a change at or below the saved position is skipped) and
answer the same questions: a wallet's totals and statement page, the unused
balance at an instant, the charges due to expire, the payments to reconcile,
and the sum of every ledger account (which must be zero).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from pbx_kit.read_models import PostgresReadModel
from pbx_wallet.projections import Due, Movement, Op, Opened, Unreconciled


@dataclass(frozen=True)
class StatementLine:
    entry: int
    posted_at: datetime
    kind: str
    description: str
    amount: int
    pending_change: int
    balance_after: int
    pending_after: int
    charge_id: UUID | None
    order_id: UUID | None
    method: str | None


@dataclass(frozen=True)
class UnusedBalance:
    total: int
    wallets: int


class LedgerStore(Protocol):
    async def setup(self) -> None: ...
    async def position(self) -> int: ...
    async def apply(self, ops: Sequence[Op], position: int) -> None: ...
    async def totals(self, account_id: UUID) -> tuple[int, int] | None: ...
    async def statement(
        self, account_id: UUID, limit: int, offset: int, *, balance_only: bool = False
    ) -> tuple[list[StatementLine], int]:
        """A page of the account's ledger rows, newest first; ``balance_only``: only the
        rows that moved the customer's balance (their statement)."""
        ...

    async def unused_balance(self, before: datetime) -> UnusedBalance: ...
    async def due_charges(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]: ...
    async def reconciliations(self) -> list[dict[str, Any]]: ...
    async def ledger_sums(self) -> dict[str, int]: ...


class MemoryLedgerStore:
    """The read model in memory (the in-memory event store's companion)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = 0
        self._totals: dict[UUID, list[int]] = {}
        self._lines: dict[UUID, list[tuple[StatementLine, Movement]]] = defaultdict(list)
        self._due: dict[UUID, tuple[UUID, datetime]] = {}
        self._reconcile: dict[str, dict[str, Any]] = {}

    async def setup(self) -> None:
        return None

    async def position(self) -> int:
        return self._position

    async def apply(self, ops: Sequence[Op], position: int) -> None:
        with self._lock:
            for op in ops:
                if op.position <= self._position:
                    continue
                if isinstance(op, Opened):
                    self._totals.setdefault(op.account_id, [0, 0])
                elif isinstance(op, Movement):
                    totals = self._totals.setdefault(op.account_id, [0, 0])
                    totals[0] += op.balance_change
                    totals[1] += op.pending_change
                    self._lines[op.account_id].append((_line(op, totals[0], totals[1]), op))
                elif isinstance(op, Due):
                    if op.expires_at is None:
                        self._due.pop(op.charge_id, None)
                    else:
                        self._due[op.charge_id] = (op.account_id, op.expires_at)
                elif isinstance(op, Unreconciled):
                    self._reconcile[op.notification_id] = _reconciliation(op)
            self._position = max(self._position, position)

    async def totals(self, account_id: UUID) -> tuple[int, int] | None:
        with self._lock:
            totals = self._totals.get(account_id)
            return (totals[0], totals[1]) if totals is not None else None

    async def statement(
        self, account_id: UUID, limit: int, offset: int, *, balance_only: bool = False
    ) -> tuple[list[StatementLine], int]:
        with self._lock:
            lines = [
                line
                for line, _ in self._lines.get(account_id, [])
                if line.amount or not balance_only
            ]
        lines.reverse()
        return lines[offset : offset + limit], len(lines)

    async def unused_balance(self, before: datetime) -> UnusedBalance:
        with self._lock:
            per_wallet = {
                account: sum(op.balance_change for _, op in lines if op.posted_at < before)
                for account, lines in self._lines.items()
            }
        return UnusedBalance(sum(per_wallet.values()), sum(1 for v in per_wallet.values() if v))

    async def due_charges(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        with self._lock:
            due = sorted(
                (expires, account, charge)
                for charge, (account, expires) in self._due.items()
                if expires <= now
            )
        return [(account, charge) for _, account, charge in due[:limit]]

    async def reconciliations(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = list(self._reconcile.values())
        return sorted(rows, key=lambda r: r["recorded_at"])

    async def ledger_sums(self) -> dict[str, int]:
        sums: dict[str, int] = defaultdict(int)
        with self._lock:
            for lines in self._lines.values():
                for _, op in lines:
                    for posting in op.postings:
                        sums[posting.debit] -= posting.amount
                        sums[posting.credit] += posting.amount
        return dict(sums)


def _line(op: Movement, balance_after: int, pending_after: int) -> StatementLine:
    return StatementLine(
        entry=op.wallet_version,
        posted_at=op.posted_at,
        kind=op.kind,
        description=op.description(),
        amount=op.balance_change,
        pending_change=op.pending_change,
        balance_after=balance_after,
        pending_after=pending_after,
        charge_id=op.charge_id,
        order_id=op.order_id,
        method=op.method,
    )


def _reconciliation(op: Unreconciled) -> dict[str, Any]:
    return {
        "account_id": op.account_id,
        "charge_id": op.charge_id,
        "notification_id": op.notification_id,
        "amount": op.amount,
        "reason": op.reason,
        "recorded_at": op.recorded_at,
    }


_SCHEMA = """
CREATE TABLE IF NOT EXISTS {s}.rm_wallets (
    account_id uuid PRIMARY KEY, balance bigint NOT NULL, pending bigint NOT NULL,
    opened_at timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.rm_movements (
    account_id uuid NOT NULL, entry integer NOT NULL, posted_at timestamptz NOT NULL,
    kind text NOT NULL, description text NOT NULL,
    balance_change bigint NOT NULL, pending_change bigint NOT NULL,
    balance_after bigint NOT NULL, pending_after bigint NOT NULL,
    charge_id uuid, order_id uuid, method text,
    PRIMARY KEY (account_id, entry));
CREATE INDEX IF NOT EXISTS rm_movements_posted_at ON {s}.rm_movements (posted_at);
CREATE TABLE IF NOT EXISTS {s}.rm_postings (
    account_id uuid NOT NULL, entry integer NOT NULL, seq integer NOT NULL,
    debit text NOT NULL, credit text NOT NULL, amount bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (account_id, entry, seq));
CREATE TABLE IF NOT EXISTS {s}.rm_due_charges (
    charge_id uuid PRIMARY KEY, account_id uuid NOT NULL, expires_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS rm_due_charges_expires_at ON {s}.rm_due_charges (expires_at);
CREATE TABLE IF NOT EXISTS {s}.rm_reconciliations (
    notification_id text PRIMARY KEY, account_id uuid NOT NULL, charge_id uuid NOT NULL,
    amount bigint NOT NULL, reason text NOT NULL, recorded_at timestamptz NOT NULL);
"""


class PostgresLedgerStore(PostgresReadModel):
    """The read model in the wallet's schema, written in one transaction per batch."""

    name = "ledger"
    ddl = _SCHEMA

    def __init__(self, pool: asyncpg.Pool, schema: str = "wallet") -> None:
        super().__init__(pool, schema)

    async def apply(self, ops: Sequence[Op], position: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # one writer at a time; a batch another process applied already is skipped
            saved = await self.locked_position(conn)
            for op in ops:
                if op.position > saved:
                    await self._apply_one(conn, op)
            if position > saved:
                await self.save_position(conn, position)

    async def _apply_one(self, conn: Any, op: Op) -> None:
        s = self.s
        if isinstance(op, Opened):
            await conn.execute(
                f'INSERT INTO "{s}".rm_wallets VALUES ($1, 0, 0, $2) ON CONFLICT DO NOTHING',
                op.account_id,
                op.opened_at,
            )
        elif isinstance(op, Movement):
            row = await conn.fetchrow(
                f'UPDATE "{s}".rm_wallets SET balance = balance + $2, pending = pending + $3 '
                "WHERE account_id = $1 RETURNING balance, pending",
                op.account_id,
                op.balance_change,
                op.pending_change,
            )
            await conn.execute(
                f'INSERT INTO "{s}".rm_movements VALUES '
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                op.account_id,
                op.wallet_version,
                op.posted_at,
                op.kind,
                op.description(),
                op.balance_change,
                op.pending_change,
                row["balance"],
                row["pending"],
                op.charge_id,
                op.order_id,
                op.method,
            )
            await conn.executemany(
                f'INSERT INTO "{s}".rm_postings VALUES ($1, $2, $3, $4, $5, $6)',
                [
                    (op.account_id, op.wallet_version, i, p.debit, p.credit, p.amount)
                    for i, p in enumerate(op.postings)
                ],
            )
        elif isinstance(op, Due):
            if op.expires_at is None:
                await conn.execute(
                    f'DELETE FROM "{s}".rm_due_charges WHERE charge_id = $1', op.charge_id
                )
            else:
                await conn.execute(
                    f'INSERT INTO "{s}".rm_due_charges VALUES ($1, $2, $3) '
                    "ON CONFLICT (charge_id) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                    op.charge_id,
                    op.account_id,
                    op.expires_at,
                )
        elif isinstance(op, Unreconciled):
            await conn.execute(
                f'INSERT INTO "{s}".rm_reconciliations VALUES ($1, $2, $3, $4, $5, $6) '
                "ON CONFLICT DO NOTHING",
                op.notification_id,
                op.account_id,
                op.charge_id,
                op.amount,
                op.reason,
                op.recorded_at,
            )

    async def totals(self, account_id: UUID) -> tuple[int, int] | None:
        row = await self.pool.fetchrow(
            f'SELECT balance, pending FROM "{self.s}".rm_wallets WHERE account_id = $1',
            account_id,
        )
        return (int(row["balance"]), int(row["pending"])) if row is not None else None

    async def statement(
        self, account_id: UUID, limit: int, offset: int, *, balance_only: bool = False
    ) -> tuple[list[StatementLine], int]:
        s = self.s
        where = "account_id = $1" + (" AND balance_change <> 0" if balance_only else "")
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(
                f'SELECT count(*) FROM "{s}".rm_movements WHERE {where}', account_id
            )
            rows = await conn.fetch(
                "SELECT entry, posted_at, kind, description, balance_change AS amount, "
                "pending_change, balance_after, pending_after, charge_id, order_id, method "
                f'FROM "{s}".rm_movements WHERE {where} '
                "ORDER BY entry DESC LIMIT $2 OFFSET $3",
                account_id,
                limit,
                offset,
            )
        return [StatementLine(**dict(r)) for r in rows], int(total)

    async def unused_balance(self, before: datetime) -> UnusedBalance:
        row = await self.pool.fetchrow(
            "SELECT coalesce(sum(b), 0) AS total, count(*) FILTER (WHERE b <> 0) AS wallets "
            f'FROM (SELECT sum(balance_change) AS b FROM "{self.s}".rm_movements '
            "WHERE posted_at < $1 GROUP BY account_id) per_wallet",
            before,
        )
        assert row is not None
        return UnusedBalance(int(row["total"]), int(row["wallets"]))

    async def due_charges(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        rows = await self.pool.fetch(
            f'SELECT account_id, charge_id FROM "{self.s}".rm_due_charges '
            "WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
            now,
            limit,
        )
        # asyncpg's UUID is a subclass the event store cannot encode: plain UUIDs
        return [(UUID(str(r["account_id"])), UUID(str(r["charge_id"]))) for r in rows]

    async def reconciliations(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT account_id, charge_id, notification_id, amount, reason, recorded_at "
            f'FROM "{self.s}".rm_reconciliations ORDER BY recorded_at'
        )
        return [dict(r) for r in rows]

    async def ledger_sums(self) -> dict[str, int]:
        rows = await self.pool.fetch(
            f'SELECT debit, credit, sum(amount) AS amount FROM "{self.s}".rm_postings '
            "GROUP BY debit, credit"
        )
        sums: dict[str, int] = defaultdict(int)
        for row in rows:
            sums[row["debit"]] -= int(row["amount"])
            sums[row["credit"]] += int(row["amount"])
        return dict(sums)
