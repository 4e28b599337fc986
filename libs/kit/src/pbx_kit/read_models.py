"""What every PostgreSQL read model shares: its tables in the service's schema, and the
position of the event log it has applied (a row of ``rm_position``).

A writer (a batch of the projection, or a rebuild) takes ``locked_position`` inside its
transaction: writers take turns, and a batch at or below the saved position is one that
another process applied already (skipped). The rows and the new position commit together.
"""

from __future__ import annotations

from typing import Any

import asyncpg

_POSITION_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}.rm_position (name text PRIMARY KEY, position bigint NOT NULL)"
)


class PostgresReadModel:
    """Base of a read model's store: ``name`` (its position row) and ``ddl`` (its tables,
    ``{s}`` standing for the quoted schema) are set by each subclass."""

    name: str
    ddl: str

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.s = schema

    async def setup(self) -> None:
        """Create the schema and the tables when missing."""
        quoted = f'"{self.s}"'
        async with self.pool.acquire() as conn:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
            await conn.execute(_POSITION_DDL.format(s=quoted))
            await conn.execute(self.ddl.format(s=quoted))

    async def position(self) -> int:
        """The log position applied so far (0: none)."""
        value = await self.pool.fetchval(
            f'SELECT position FROM "{self.s}".rm_position WHERE name = $1', self.name
        )
        return int(value or 0)

    async def locked_position(self, conn: Any) -> int:
        """The saved position, locked until the caller's transaction ends."""
        await conn.execute(
            f'INSERT INTO "{self.s}".rm_position VALUES ($1, 0) ON CONFLICT DO NOTHING', self.name
        )
        saved = await conn.fetchval(
            f'SELECT position FROM "{self.s}".rm_position WHERE name = $1 FOR UPDATE', self.name
        )
        return int(saved)

    async def save_position(self, conn: Any, position: int) -> None:
        """Record the new position (in the same transaction as the rows)."""
        await conn.execute(
            f'UPDATE "{self.s}".rm_position SET position = $2 WHERE name = $1', self.name, position
        )
