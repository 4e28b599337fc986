"""What every service wires the same way around its application and relay."""

from __future__ import annotations

import anyio
import asyncpg

from pbx_events.relay import OutboxRelay
from pbx_events.store import ServiceApplication
from pbx_kit.app import Edge
from pbx_kit.db import close_pool_within, create_pool, database_check
from pbx_kit.idempotency import PostgresIdempotencyStore
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.sessions import (
    MemorySessionFloors,
    PostgresSessionFloors,
    SessionFloors,
    subscribe_session_ends,
)


async def wire_edge(
    infra: Infrastructure,
    runtime: ServiceRuntime,
    edge: Edge,
    application: ServiceApplication,
    relay: OutboxRelay,
) -> asyncpg.Pool | None:
    """Readiness (broker, database, relay lag), the PostgreSQL idempotency store, the
    floors of ended sessions (tokens issued before a password reset or "log out
    everywhere" are refused), and the clean stop of the pool and the application.
    Returns the service's pool (None when the store is in memory)."""

    async def broker() -> tuple[bool, str]:
        ok = await infra.bus.is_healthy()
        return ok, "ok" if ok else "unreachable"

    async def relay_lag() -> tuple[bool, int]:
        return True, await relay.lag()

    edge.checks["broker"] = broker
    edge.figures["relay_lag"] = relay_lag
    pool: asyncpg.Pool | None = None
    if infra.database_url:
        pool = await create_pool(infra.database_url, runtime.name)
        store = PostgresIdempotencyStore(pool, runtime.name, infra.settings.idempotency_ttl)
        await store.create_table()
        edge.idempotency = store
        edge.checks["database"] = database_check(pool)
        opened = pool

        async def close_pool() -> None:
            await close_pool_within(opened, 10.0)

        runtime.on_stop.append(close_pool)

    floors: SessionFloors = MemorySessionFloors()
    if pool is not None:
        shared = PostgresSessionFloors(pool)
        await shared.create_table()
        floors = shared
    edge.session_floors = floors
    sessions = await subscribe_session_ends(
        infra.bus, runtime.name, floors, infra.settings.queue_prefix
    )
    # first: deliveries stop before the pool closes
    runtime.on_stop.insert(0, sessions.cancel)

    async def close_app() -> None:
        await anyio.to_thread.run_sync(application.close)

    runtime.on_stop.append(close_app)
    return pool
