"""The catalog end to end on both stacks: seed, reads, admin changes, events."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from pbx_catalog.application import seed_data
from pbx_catalog.main import build
from pbx_events.bus import Delivery
from pbx_events.envelope import Message
from pbx_kit.host import running
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for
from pbx_kit.testing_tokens import TokenMinter


class Shop:
    def __init__(self, client: httpx.AsyncClient, infra: Any, runtime: Any) -> None:
        self.client = client
        self.infra = infra
        self.runtime = runtime
        self.seen: list[Message] = []
        self.issuer = TokenMinter(infra.key_ring())

    @property
    def app(self) -> Any:
        return self.runtime.api.state.application

    def auth(self, role: str) -> dict[str, str]:
        token = self.issuer.issue(str(uuid.uuid4()), [role])
        return {"Authorization": f"Bearer {token}"}

    async def wait_for(self, predicate: Any, timeout: float = 15.0) -> None:
        """Until ``predicate()`` (awaited when it gives a coroutine) is true."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)


@pytest.fixture
async def shop(stack: Stack) -> AsyncIterator[Shop]:
    infra = infrastructure_for(stack)
    runtime = build(infra)
    queue = f"test.catalog.{uuid.uuid4().hex[:8]}"
    async with running(infra, [runtime]):
        transport = httpx.ASGITransport(app=runtime.api)
        async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
            shop = Shop(client, infra, runtime)

            async def on_message(delivery: Delivery) -> None:
                shop.seen.append(delivery.message)

            await infra.bus.subscribe(queue, ["catalog.#"], on_message)
            yield shop
    if stack.kind == "real":
        own = sessions_queue("catalog", stack.settings.queue_prefix)
        await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, (queue, own))


async def test_the_seed_is_loaded_once_and_every_category_has_products(shop: Shop) -> None:
    seeded = len(seed_data()["products"])
    assert await asyncio.to_thread(shop.app.load_seed) == 0  # the start already loaded it
    categories = (await shop.client.get("/categories")).json()
    assert [c["name"] for c in categories] == [
        "VoIP電話機", "VoIPアダプタ", "ネットワーク", "ヘッドセット",
        "タイプE", "D+Eマンスリー", "未検証", "販売終了",
    ]  # fmt: skip
    assert all(c["product_count"] >= 1 for c in categories)
    assert sum(c["product_count"] for c in categories) == seeded
    await shop.wait_for(lambda: len(shop.seen) >= seeded)
    await asyncio.sleep(0.3)
    assert len(shop.seen) == seeded
    assert {m.type for m in shop.seen} == {"catalog.ProductPublished.v1"}


async def test_products_are_paged_in_a_stable_order_and_discontinued_ones_are_flagged(
    shop: Shop,
) -> None:
    first = (await shop.client.get("/products", params={"per_page": 5})).json()
    second = (await shop.client.get("/products", params={"per_page": 5, "page": 2})).json()
    assert first["total"] == second["total"] >= 20
    skus = [p["sku"] for p in first["items"] + second["items"]]
    assert len(set(skus)) == 10
    again = (await shop.client.get("/products", params={"per_page": 10})).json()
    assert [p["sku"] for p in again["items"]] == skus
    gone = (await shop.client.get("/products", params={"status": "discontinued"})).json()
    assert gone["items"] and all(not p["purchasable"] for p in gone["items"])
    phone = (await shop.client.get("/products/GS-GXP1400")).json()
    assert phone["unit_price"] > 0 and phone["warranty_months"] == 6
    assert any("G.722" in line for line in phone["specs"])
    image = await shop.client.get(phone["image_url"].removeprefix(""))
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")


async def test_an_unknown_sku_is_a_404_problem(shop: Shop) -> None:
    response = await shop.client.get("/products/NO-SUCH")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "product_not_found"


async def test_admin_routes_refuse_anonymous_and_customers(shop: Shop) -> None:
    change = {"version": 1, "unit_price": 1}
    assert (await shop.client.patch("/products/GS-GXP1400", json=change)).status_code == 401
    as_customer = await shop.client.patch(
        "/products/GS-GXP1400", json=change, headers=shop.auth("customer")
    )
    assert as_customer.status_code == 403
    assert (await shop.client.get("/products/GS-GXP1400")).json()["unit_price"] != 1


async def test_bad_admin_input_is_422_with_field_errors(shop: Shop) -> None:
    body = {"sku": "bad sku", "name": "", "category": "toys", "billing_kind": "one_time",
            "unit_price": -1, "image": {"shape": "phone", "color": "red"}}  # fmt: skip
    response = await shop.client.post("/products", json=body, headers=shop.auth("admin"))
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"sku", "name", "category", "unit_price", "image.color"} <= fields


async def test_a_price_change_reaches_a_consumer_once_and_a_stale_one_is_409(shop: Shop) -> None:
    seeded = len(seed_data()["products"])
    await shop.wait_for(lambda: len(shop.seen) >= seeded)
    before = (await shop.client.get("/products/GS-GXP1400")).json()
    admin = shop.auth("admin")
    changed = await shop.client.patch(
        "/products/GS-GXP1400",
        json={"version": before["version"], "unit_price": before["unit_price"] - 1000},
        headers={**admin, "X-Correlation-ID": "price-cut-1"},
    )
    assert changed.status_code == 200, changed.text
    stale = await shop.client.patch(
        "/products/GS-GXP1400",
        json={"version": before["version"], "unit_price": 1},
        headers=admin,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"

    def price_changes() -> list[Message]:
        return [m for m in shop.seen if m.type == "catalog.ProductChanged.v1"]

    await shop.wait_for(lambda: len(price_changes()) >= 1)
    await asyncio.sleep(0.5)
    [message] = price_changes()
    payload = json.loads(message.body)
    assert payload["product"]["sku"] == "GS-GXP1400"
    assert payload["product"]["unit_price"] == before["unit_price"] - 1000
    assert payload["changed"] == ["price"]
    assert message.correlation_id == "price-cut-1"

    async def cut_price_listed() -> bool:
        reply = await shop.client.get("/products/GS-GXP1400")
        return bool(reply.json()["unit_price"] == before["unit_price"] - 1000)

    await shop.wait_for(cut_price_listed)


async def test_an_admin_adds_a_product_that_is_listed_and_published(shop: Shop) -> None:
    body = {
        "sku": "YL-T53W",
        "name": "Yealink SIP-T53W",
        "category": "voip_phone",
        "billing_kind": "one_time",
        "unit_price": 19800,
        "specs": ["SIPアカウント 12", "Wi-Fi / Bluetooth 内蔵"],
        "warranty_months": 12,
        "image": {"shape": "phone", "color": "#1F4E79"},
    }
    created = await shop.client.post("/products", json=body, headers=shop.auth("admin"))
    assert created.status_code == 201, created.text
    assert created.json()["purchasable"] is True
    again = await shop.client.post("/products", json=body, headers=shop.auth("admin"))
    assert again.status_code == 409
    assert again.json()["code"] == "product_exists"
    await shop.wait_for(lambda: shop.runtime.api.state.product_store.product("YL-T53W"))
    listed = (await shop.client.get("/products/YL-T53W")).json()
    assert listed["unit_price"] == 19800
    await shop.wait_for(
        lambda: any(json.loads(m.body)["product"]["sku"] == "YL-T53W" for m in shop.seen)
    )


async def test_a_discontinued_product_shows_in_the_list_once_the_projection_catches_up(
    shop: Shop,
) -> None:
    before = (await shop.client.get("/products/GS-GXP1400")).json()
    counts = {c["code"]: c["product_count"] for c in (await shop.client.get("/categories")).json()}
    gone = (await shop.client.get("/products", params={"status": "discontinued"})).json()
    changed = await shop.client.patch(
        "/products/GS-GXP1400",
        json={"version": before["version"], "status": "discontinued"},
        headers=shop.auth("admin"),
    )
    assert changed.status_code == 200, changed.text

    async def listed_as_discontinued() -> bool:
        page = (
            await shop.client.get("/products", params={"status": "discontinued", "per_page": 100})
        ).json()
        return "GS-GXP1400" in {p["sku"] for p in page["items"]}

    await shop.wait_for(listed_as_discontinued)
    page = (await shop.client.get("/products", params={"status": "discontinued"})).json()
    assert page["total"] == gone["total"] + 1
    listed = (await shop.client.get("/products/GS-GXP1400")).json()
    assert (listed["status"], listed["purchasable"]) == ("discontinued", False)
    assert listed["version"] == before["version"] + 1
    after = {c["code"]: c["product_count"] for c in (await shop.client.get("/categories")).json()}
    assert after == counts  # listed still, in its own category
