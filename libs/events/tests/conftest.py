"""Bus fixtures: the same tests run on the in-process bus and on RabbitMQ.

``amqp_url`` and ``amqp_broker`` come from the ``pbx_kit.testing`` plugin. Each
test gets its own exchanges (``bus_settings``) and the amqp bus deletes them and
its queues after.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import uuid4

import aio_pika
import pytest

from pbx_events.amqp import AmqpBus
from pbx_events.bus import Bus, BusSettings, dlq_name
from pbx_events.envelope import Message
from pbx_events.memory import InMemoryBus


@pytest.fixture
def bus_settings(request: pytest.FixtureRequest) -> BusSettings:
    """Unique exchanges per test; override fields with
    ``@pytest.mark.parametrize("bus_settings", [{...}], indirect=True)``."""
    token = uuid4().hex[:8]
    settings = BusSettings(
        exchange=f"test.{token}",
        dead_letter_exchange=f"test.dlx.{token}",
        retry_base_delay=0.01,
        delivery_limit=3,
    )
    overrides: dict[str, Any] = getattr(request, "param", {})
    return dataclasses.replace(settings, **overrides)


class _TrackingAmqpBus(AmqpBus):
    """Remembers the queues a test declared, to delete them afterwards."""

    def __init__(self, url: str, settings: BusSettings) -> None:
        super().__init__(url, settings, connection_name=f"pbx-test {settings.exchange}")
        self.test_queues: set[str] = set()

    async def declare_queue(self, queue: str, routing_keys: Sequence[str]) -> None:
        self.test_queues.add(queue)
        await super().declare_queue(queue, routing_keys)

    async def dead_letters(self, queue: str) -> list[Message]:
        self.test_queues.add(queue)
        return await super().dead_letters(queue)


async def _delete_topology(url: str, settings: BusSettings, queues: set[str]) -> None:
    connection = await aio_pika.connect(url)
    try:
        names = [n for q in sorted(queues) for n in (q, dlq_name(q))] + [settings.audit_stream]
        for name in names:
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
            with contextlib.suppress(Exception):
                await channel.close()
        for exchange in (settings.exchange, settings.dead_letter_exchange):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(exchange)
            with contextlib.suppress(Exception):
                await channel.close()
    finally:
        await connection.close()


@pytest.fixture(params=["memory", "amqp"])
async def bus(request: pytest.FixtureRequest, bus_settings: BusSettings) -> AsyncIterator[Bus]:
    if request.param == "memory":
        memory = InMemoryBus(bus_settings)
        await memory.connect()
        yield memory
        await memory.close()
        return
    url: str = request.getfixturevalue("amqp_url")
    amqp = _TrackingAmqpBus(url, bus_settings)
    await amqp.connect()
    try:
        yield amqp
    finally:
        # consumers first: a robust consumer whose queue vanishes re-declares it
        await amqp.close()
        await _delete_topology(url, bus_settings, amqp.test_queues)
