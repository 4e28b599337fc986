"""Where the product list lives: a PostgreSQL table (asyncpg), or memory (in-memory stack).

Both stores apply the projection's rows idempotently (a row at or below the
saved position is skipped), can be emptied and rebuilt from the log in one go,
and answer the same questions in the same order: category order, then SKU
(byte order, whatever the database's collation).
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import asyncpg

from pbx_catalog.domain.product import CATEGORIES
from pbx_catalog.projections import ProductRow
from pbx_kit.read_models import PostgresReadModel

_CATEGORY_ORDER = {code: i for i, code in enumerate(CATEGORIES)}


class ProductStore(Protocol):
    async def setup(self) -> None: ...
    async def position(self) -> int: ...
    async def apply(self, rows: Sequence[ProductRow], position: int) -> None: ...
    async def rebuild(self, batches: AsyncIterator[tuple[list[ProductRow], int]]) -> int: ...
    async def products(
        self,
        category: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]: ...
    async def category_counts(self) -> dict[str, int]: ...
    async def product(self, sku: str) -> dict[str, Any] | None: ...


def _order(row: dict[str, Any]) -> tuple[int, str]:
    return _CATEGORY_ORDER.get(row["category"], len(_CATEGORY_ORDER)), row["sku"]


class MemoryProductStore:
    """The product list in memory (the in-memory event store's companion)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position = 0
        self._rows: dict[str, dict[str, Any]] = {}

    async def setup(self) -> None:
        return None

    async def position(self) -> int:
        return self._position

    async def apply(self, rows: Sequence[ProductRow], position: int) -> None:
        with self._lock:
            for row in rows:
                if row.position > self._position:
                    self._rows[row.sku] = dict(row.product)
            self._position = max(self._position, position)

    async def rebuild(self, batches: AsyncIterator[tuple[list[ProductRow], int]]) -> int:
        fresh: dict[str, dict[str, Any]] = {}
        position = 0
        async for rows, last in batches:
            for row in rows:
                fresh[row.sku] = dict(row.product)
            position = last
        with self._lock:
            self._rows, self._position = fresh, position
        return position

    async def products(
        self,
        category: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            rows = [
                dict(r)
                for r in self._rows.values()
                if (category is None or r["category"] == category)
                and (status is None or r["status"] == status)
            ]
        rows.sort(key=_order)
        end = None if limit is None else offset + limit
        return rows[offset:end], len(rows)

    async def category_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._lock:
            for row in self._rows.values():
                counts[row["category"]] = counts.get(row["category"], 0) + 1
        return counts

    async def product(self, sku: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._rows.get(sku)
            return dict(row) if row is not None else None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS {s}.rm_products (
    sku text PRIMARY KEY, category text NOT NULL, status text NOT NULL,
    product jsonb NOT NULL, position bigint NOT NULL);
"""


class PostgresProductStore(PostgresReadModel):
    """The product list in the catalog's schema, written in one transaction per batch."""

    name = "products"
    ddl = _SCHEMA

    def __init__(self, pool: asyncpg.Pool, schema: str = "catalog") -> None:
        super().__init__(pool, schema)

    async def _upsert(self, conn: Any, rows: Sequence[ProductRow]) -> None:
        await conn.executemany(
            f'INSERT INTO "{self.s}".rm_products VALUES ($1, $2, $3, $4::jsonb, $5) '
            "ON CONFLICT (sku) DO UPDATE SET category = EXCLUDED.category, "
            "status = EXCLUDED.status, product = EXCLUDED.product, position = EXCLUDED.position",
            [
                (
                    r.sku,
                    r.product["category"],
                    r.product["status"],
                    json.dumps(r.product),
                    r.position,
                )
                for r in rows
            ],
        )

    async def apply(self, rows: Sequence[ProductRow], position: int) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            saved = await self.locked_position(conn)
            # a batch another process applied already is skipped
            await self._upsert(conn, [r for r in rows if r.position > saved])
            if position > saved:
                await self.save_position(conn, position)

    async def rebuild(self, batches: AsyncIterator[tuple[list[ProductRow], int]]) -> int:
        position = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await self.locked_position(conn)
            await conn.execute(f'DELETE FROM "{self.s}".rm_products')
            async for rows, last in batches:
                await self._upsert(conn, rows)
                position = last
            await self.save_position(conn, position)
        return position

    async def products(
        self,
        category: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        where = "($1::text IS NULL OR category = $1) AND ($2::text IS NULL OR status = $2)"
        async with self.pool.acquire() as conn:
            total = await conn.fetchval(
                f'SELECT count(*) FROM "{self.s}".rm_products WHERE {where}', category, status
            )
            rows = await conn.fetch(
                f'SELECT product FROM "{self.s}".rm_products WHERE {where} '
                "ORDER BY coalesce(array_position($3::text[], category), $4), "
                'sku COLLATE "C" LIMIT $5 OFFSET $6',
                category,
                status,
                list(CATEGORIES),
                len(CATEGORIES) + 1,
                limit,
                offset,
            )
        return [json.loads(r["product"]) for r in rows], int(total)

    async def category_counts(self) -> dict[str, int]:
        rows = await self.pool.fetch(
            f'SELECT category, count(*) AS n FROM "{self.s}".rm_products GROUP BY category'
        )
        return {r["category"]: int(r["n"]) for r in rows}

    async def product(self, sku: str) -> dict[str, Any] | None:
        value = await self.pool.fetchval(
            f'SELECT product FROM "{self.s}".rm_products WHERE sku = $1', sku
        )
        return json.loads(value) if value is not None else None
