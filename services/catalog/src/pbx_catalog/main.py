"""The catalog service: what it is, for ``pbx_kit.service`` to build."""

from __future__ import annotations

import anyio

from pbx_catalog import api
from pbx_catalog.application import CatalogService
from pbx_catalog.integration import CatalogMapping
from pbx_catalog.projections import ProductProjection
from pbx_catalog.read_model import MemoryProductStore, PostgresProductStore, ProductStore
from pbx_events.relay import FollowerSettings
from pbx_kit.runtime import Infrastructure
from pbx_kit.service import Running, Service


def make_application(infra: Infrastructure) -> CatalogService:
    return CatalogService(infra.eventsourcing_env("catalog"))


async def setup(service: Running[CatalogService]) -> None:
    """The seed, and the product list caught up before serving (from where it got to)."""
    created = await anyio.to_thread.run_sync(service.application.load_seed)
    pool = service.pool
    store: ProductStore = MemoryProductStore() if pool is None else PostgresProductStore(pool)
    await store.setup()
    projection = ProductProjection(service.application, store, FollowerSettings(batch_size=500))
    await projection.start()
    await projection.drain()
    service.api.state.product_store = store
    service.api.state.product_projection = projection
    service.loop(projection.run)

    async def seeded_now() -> tuple[bool, int]:
        return True, created

    service.edge.figures["seeded_now"] = seeded_now


CATALOG = Service[CatalogService](
    name="catalog",
    title="Catalog — クラウドPBX",
    description="The device shop (機器購入): categories, products, prices. "
    "Errors are RFC 9457 problem+json.",
    routers=[api.router],
    application=make_application,
    mapping=CatalogMapping,
    setup=setup,
)
build = CATALOG.build
