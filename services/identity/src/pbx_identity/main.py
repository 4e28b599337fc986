"""Wiring: the identity service built on the given infrastructure."""

from __future__ import annotations

import anyio

from pbx_events.relay import OutboxRelay, RelaySettings
from pbx_identity import api
from pbx_identity.api_models import DOCUMENTED
from pbx_identity.application import IdentityService
from pbx_identity.integration import to_integration
from pbx_identity.mails import IdentityMailer
from pbx_kit.app import Edge, create_app
from pbx_kit.db import create_pool, database_check
from pbx_kit.idempotency import PostgresIdempotencyStore
from pbx_kit.runtime import Infrastructure, ServiceRuntime

SERVICE = "identity"


def build(infra: Infrastructure) -> ServiceRuntime:
    settings = infra.settings
    edge = Edge()
    web = create_app(
        SERVICE,
        title="Identity — クラウドPBX",
        description="Account registration (アカウント登録). Errors are RFC 9457 problem+json.",
        routers=[api.router],
        max_body_bytes=settings.max_body_bytes,
        edge=edge,
        documented_models=DOCUMENTED,
    )
    runtime = ServiceRuntime(SERVICE, web)

    async def start() -> None:
        env = await anyio.to_thread.run_sync(infra.eventsourcing_env, SERVICE)
        application = await anyio.to_thread.run_sync(
            lambda: IdentityService(env, index_key=infra.derived_key("identity.email-index"))
        )
        web.state.application = application
        relay = OutboxRelay(application, SERVICE, to_integration, infra.bus)
        mailer = IdentityMailer(
            application, infra.mailer, settings.login_url, RelaySettings(batch_size=20)
        )
        runtime.loops.extend([relay.run, mailer.run])
        web.state.relay = relay

        async def broker() -> tuple[bool, str]:
            ok = await infra.bus.is_healthy()
            return ok, "ok" if ok else "unreachable"

        async def relay_lag() -> tuple[bool, int]:
            return True, await relay.lag()

        edge.checks["broker"] = broker
        edge.figures["relay_lag"] = relay_lag
        if infra.database_url:
            pool = await create_pool(infra.database_url, SERVICE)
            store = PostgresIdempotencyStore(pool, SERVICE, settings.idempotency_ttl)
            await store.create_table()
            edge.idempotency = store
            edge.checks["database"] = database_check(pool)

            async def close_pool() -> None:
                await pool.close()

            runtime.on_stop.append(close_pool)

        async def close_app() -> None:
            await anyio.to_thread.run_sync(application.close)

        runtime.on_stop.append(close_app)

    runtime.on_start.append(start)
    return runtime
