"""asyncpg pools for read models and edge tables, one schema per service."""

from __future__ import annotations

import asyncpg

from pbx_events.store import CONNECT_TIMEOUT_SECONDS, ensure_schema


async def create_pool(database_url: str, schema: str, *, max_size: int = 5) -> asyncpg.Pool:
    ensure_schema(database_url, schema)
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=max_size,
        # a new connection to a server that does not answer fails fast (default 60 s):
        # the request answers 503 instead of hanging
        timeout=CONNECT_TIMEOUT_SECONDS,
        server_settings={"search_path": f'"{schema}",public', "application_name": f"pbx-{schema}"},
    )
    assert pool is not None
    return pool


def database_check(pool: asyncpg.Pool):  # type: ignore[no-untyped-def]
    async def check() -> tuple[bool, str]:
        async with pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)
        return True, "ok"

    return check


async def close_pool_within(pool: asyncpg.Pool, seconds: float) -> None:
    """Close gracefully, but never hang a shutdown on a connection someone still holds."""
    import asyncio

    try:
        await asyncio.wait_for(pool.close(), seconds)
    except TimeoutError:
        pool.terminate()
