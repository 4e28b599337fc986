"""The product list read model on both stores (memory, PostgreSQL): resuming from the
stored position, rebuilding from zero, and the list's order and pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pbx_catalog.application import CatalogService, publish_command
from pbx_catalog.commands import ChangeProduct
from pbx_catalog.domain.product import CATEGORIES
from pbx_catalog.main import build, make_application
from pbx_catalog.projections import ProductProjection, ProductRow
from pbx_catalog.read_model import MemoryProductStore, PostgresProductStore, ProductStore
from pbx_kit.db import create_pool
from pbx_kit.host import running
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for


@pytest.fixture
async def catalog(stack: Stack) -> AsyncIterator[tuple[CatalogService, ProductStore]]:
    app = await asyncio.to_thread(make_application, infrastructure_for(stack))
    if stack.database_url is None:
        yield app, MemoryProductStore()
        return
    pool = await create_pool(stack.database_url, "catalog")
    store = PostgresProductStore(pool)
    await store.setup()
    try:
        yield app, store
    finally:
        await pool.close()
        await asyncio.to_thread(app.close)


def phone(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Phone {sku}",
        "category": "voip_phone",
        "billing_kind": "one_time",
        "unit_price": 10000,
        "tax_category": "standard_10",
        "status": "on_sale",
        "image": {"shape": "phone", "color": "#333333"},
    }


async def everything(store: ProductStore) -> list[dict[str, Any]]:
    rows, total = await store.products()
    assert total == len(rows)
    return rows


async def test_a_restart_reads_only_what_is_new(
    catalog: tuple[CatalogService, ProductStore],
) -> None:
    app, store = catalog
    seeded = await asyncio.to_thread(app.load_seed)
    first = ProductProjection(app, store)
    await first.start()
    assert await first.drain() == seeded
    head = await asyncio.to_thread(app.max_notification_id)
    assert await store.position() == head
    await asyncio.to_thread(
        app.change_product, ChangeProduct("GS-GXP1400", expected_version=1, unit_price=1)
    )

    again = ProductProjection(app, store)  # a new process on the same store
    await again.start()
    assert again.load_position() == head
    assert await again.drain() == 1  # the price change only, not the whole log
    product = await store.product("GS-GXP1400")
    assert product is not None
    assert (product["unit_price"], product["version"]) == (1, 2)
    assert await again.drain() == 0


async def test_a_batch_applied_twice_changes_nothing(
    catalog: tuple[CatalogService, ProductStore],
) -> None:
    app, store = catalog
    await asyncio.to_thread(app.load_seed)
    projection = ProductProjection(app, store)
    await projection.start()
    await projection.drain()
    before = await everything(store)
    row = await store.product("GS-GXP1400")
    assert row is not None
    stale = ProductRow(1, "GS-GXP1400", {**row, "unit_price": 7})
    await store.apply([stale], 1)  # another process's old batch, late
    assert await everything(store) == before


async def test_a_rebuild_from_zero_gives_the_rows_the_live_projection_made(
    catalog: tuple[CatalogService, ProductStore],
) -> None:
    app, store = catalog
    await asyncio.to_thread(app.load_seed)
    projection = ProductProjection(app, store)
    await projection.start()
    await projection.drain()
    await asyncio.to_thread(
        app.change_product,
        ChangeProduct("GS-GXP1400", expected_version=1, status="discontinued", unit_price=500),
    )
    await asyncio.to_thread(app.publish_product, publish_command(phone("ZZ-NEW")))
    assert await projection.drain() == 3
    live = await everything(store)
    counts = await store.category_counts()
    head = await store.position()

    async def nothing() -> AsyncIterator[tuple[list[ProductRow], int]]:
        for _ in ():
            yield [], 0

    assert await store.rebuild(nothing()) == 0  # emptied
    assert await everything(store) == []
    assert await projection.rebuild() == head
    assert await everything(store) == live
    assert await store.category_counts() == counts
    assert await store.position() == head
    assert projection.load_position() == head


async def test_the_list_is_in_category_order_then_byte_order_of_sku_in_pages(
    catalog: tuple[CatalogService, ProductStore],
) -> None:
    app, store = catalog
    await asyncio.to_thread(app.load_seed)
    # "Z-B" sorts before "ZA" by bytes, after it in a linguistic collation
    for sku in ("ZA", "Z-B", "Z-A", "Z9"):
        await asyncio.to_thread(app.publish_product, publish_command(phone(sku)))
    projection = ProductProjection(app, store)
    await projection.start()
    await projection.drain()

    rows = await everything(store)
    order = list(CATEGORIES)
    assert [r["sku"] for r in rows] == [
        r["sku"] for r in sorted(rows, key=lambda r: (order.index(r["category"]), r["sku"]))
    ]
    phones, total = await store.products("voip_phone", "on_sale")
    assert [p["sku"] for p in phones][-4:] == ["Z-A", "Z-B", "Z9", "ZA"]
    assert total == len(phones)
    pages = [await store.products(limit=3, offset=o) for o in range(0, len(rows) + 3, 3)]
    assert [r for page, _ in pages for r in page] == rows
    assert {t for _, t in pages} == {len(rows)}
    assert await store.products(limit=3, offset=len(rows) + 10) == ([], len(rows))
    assert await store.product("NO-SUCH-SKU") is None


# the in-memory stack keeps nothing across a restart: real servers only
@pytest.mark.parametrize("stack_kind", ["real"])
async def test_a_restarted_service_starts_from_the_stored_position(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    infra = infrastructure_for(stack)
    first = build(infra)
    async with running(infra, [first]):
        head = await asyncio.to_thread(first.api.state.application.max_notification_id)
        listed = await everything(first.api.state.product_store)
    assert head == len(listed) > 0

    seen: list[int] = []
    prepare = ProductProjection.prepare

    def counting(self: ProductProjection, batch: Any) -> list[ProductRow]:
        seen.extend(position for position, _ in batch)
        return prepare(self, batch)

    monkeypatch.setattr(ProductProjection, "prepare", counting)
    infra = infrastructure_for(stack)  # a new process: its own bus connection
    again = build(infra)
    try:
        async with running(infra, [again]):
            assert again.api.state.product_projection.load_position() == head
            assert await everything(again.api.state.product_store) == listed
    finally:
        own = sessions_queue("catalog", stack.settings.queue_prefix)
        await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, (own,))
    assert seen == []  # nothing of the old log was read again
