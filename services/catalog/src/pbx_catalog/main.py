"""Wiring: the catalog service built on the given infrastructure."""

from __future__ import annotations

import anyio

from pbx_catalog import api
from pbx_catalog.application import CatalogService
from pbx_catalog.integration import CatalogMapping
from pbx_catalog.projections import ProductView
from pbx_events.relay import OutboxRelay, RelaySettings
from pbx_kit.app import Edge, create_app
from pbx_kit.auth import install_auth
from pbx_kit.db import close_pool_within, create_pool, database_check
from pbx_kit.idempotency import PostgresIdempotencyStore
from pbx_kit.runtime import Infrastructure, ServiceRuntime

SERVICE = "catalog"


def make_application(infra: Infrastructure) -> CatalogService:
    return CatalogService(infra.eventsourcing_env(SERVICE))


def build(infra: Infrastructure) -> ServiceRuntime:
    settings = infra.settings
    edge = Edge()
    web = create_app(
        SERVICE,
        title="Catalog — クラウドPBX",
        description="The device shop (機器購入): categories, products, prices. "
        "Errors are RFC 9457 problem+json.",
        routers=[api.router],
        max_body_bytes=settings.max_body_bytes,
        edge=edge,
    )
    runtime = ServiceRuntime(SERVICE, web)

    async def start() -> None:
        application = await anyio.to_thread.run_sync(make_application, infra)
        created = await anyio.to_thread.run_sync(application.load_seed)
        web.state.application = application
        install_auth(web, infra.token_verifier())
        view = ProductView(application, RelaySettings(batch_size=500))
        await view.drain()  # ready with the whole catalog before serving
        web.state.product_view = view
        relay = OutboxRelay(application, SERVICE, CatalogMapping(application), infra.bus)
        runtime.loops.extend([relay.run, view.run])

        async def broker() -> tuple[bool, str]:
            ok = await infra.bus.is_healthy()
            return ok, "ok" if ok else "unreachable"

        async def relay_lag() -> tuple[bool, int]:
            return True, await relay.lag()

        edge.checks["broker"] = broker
        edge.figures["relay_lag"] = relay_lag
        edge.figures["seeded_now"] = lambda: _const(created)
        if infra.database_url:
            pool = await create_pool(infra.database_url, SERVICE)
            store = PostgresIdempotencyStore(pool, SERVICE, settings.idempotency_ttl)
            await store.create_table()
            edge.idempotency = store
            edge.checks["database"] = database_check(pool)

            async def close_pool() -> None:
                await close_pool_within(pool, 10.0)

            runtime.on_stop.append(close_pool)

        async def close_app() -> None:
            await anyio.to_thread.run_sync(application.close)

        runtime.on_stop.append(close_app)

    runtime.on_start.append(start)
    return runtime


async def _const(value: int) -> tuple[bool, int]:
    return True, value
