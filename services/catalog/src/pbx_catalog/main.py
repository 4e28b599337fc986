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
from pbx_kit.runtime import Infrastructure, ServiceRuntime
from pbx_kit.wiring import wire_edge

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

        await wire_edge(infra, runtime, edge, application, relay)
        edge.figures["seeded_now"] = lambda: _const(created)

    runtime.on_start.append(start)
    return runtime


async def _const(value: int) -> tuple[bool, int]:
    return True, value
