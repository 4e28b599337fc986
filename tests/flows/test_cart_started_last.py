"""A cart started after the catalog has published still sees every product: its queues
did not exist then, so it catches up from the audit stream (declare its queues, replay,
then consume; the inbox takes each message once). A product published after the cart
started reaches it through its live queue. On the in-process bus and on real PostgreSQL +
RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

from pbx_cart.consumers import ROUTES as CART_ROUTES
from pbx_cart.main import build as build_cart
from pbx_catalog.commands import ChangeProduct
from pbx_catalog.main import build as build_catalog
from pbx_events.bus import Delivery
from pbx_kit.host import running
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for


def seed_skus() -> set[str]:
    text = resources.files("pbx_catalog").joinpath("data/seed.json").read_text(encoding="utf-8")
    return {p["sku"] for p in json.loads(text)["products"]}


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_the_cart_started_last_sees_every_product(stack: Stack) -> None:
    infra = infrastructure_for(stack)
    catalog = build_catalog(infra)
    cart = build_cart(infra)
    skus = seed_skus()
    try:
        async with running(infra, [catalog]):
            # the catalog seeds and publishes every product while no cart queue exists

            async def all_published() -> bool:
                seen: list[str] = []

                async def count(delivery: Delivery) -> None:
                    seen.append(delivery.message.type)

                await infra.bus.replay_audit(["catalog.ProductPublished.v1"], count)
                return len(seen) >= len(skus)

            await wait_for(all_published)

            # now the cart starts, as a service added to a running system would
            for hook in cart.on_start:
                await hook()
            tasks = [asyncio.create_task(loop()) for loop in cart.loops]
            try:
                app = cart.api.state.application

                async def copied_all() -> bool:
                    known = await asyncio.to_thread(app.all_products)
                    return {p["sku"] for p in known.values()} == skus

                await wait_for(copied_all)
                # a change after the cart started comes through its live queue
                catalog_app = catalog.api.state.application
                phone = await asyncio.to_thread(catalog_app.get_product, "GS-GXP1625")
                await asyncio.to_thread(
                    catalog_app.change_product,
                    ChangeProduct(
                        sku="GS-GXP1625", expected_version=phone.version, unit_price=9_999
                    ),
                )

                async def price_followed() -> bool:
                    known = await asyncio.to_thread(app.all_products)
                    return any(
                        p["sku"] == "GS-GXP1625" and p["unit_price"] == 9_999
                        for p in known.values()
                    )

                await wait_for(price_followed)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                for hook in cart.on_stop:
                    await hook()
    finally:
        if stack.kind == "real":
            prefix = stack.settings.queue_prefix
            queues = [prefix + q for q in CART_ROUTES]
            queues += [sessions_queue(name, prefix) for name in ("catalog", "cart")]
            await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, tuple(queues))
