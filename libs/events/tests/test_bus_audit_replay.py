"""Replaying the audit stream (``Bus.replay_audit``), on the in-process bus and on RabbitMQ.

A consumer started after others published has missed what they published before
its queue existed: the audit stream kept it, and the replay hands it over.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import aio_pika
import pytest

from pbx_events.bus import Bus, Delivery, ReplayError
from pbx_events.envelope import Message
from pbx_kit.testing import Broker


def a_message(routing_key: str, *, timestamp: datetime | None = None, **headers: Any) -> Message:
    return Message(
        routing_key=routing_key,
        body=json.dumps({"key": routing_key, "id": uuid4().hex, "name": "山田太郎"}).encode(),
        message_id=str(uuid4()),
        type=routing_key,
        app_id=routing_key.split(".")[0],
        # AMQP timestamps have a resolution of one second
        timestamp=(timestamp or datetime.now(UTC)).replace(microsecond=0),
        headers={"schema_version": 1, **headers},
    )


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self.fail_on = fail_on

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        if delivery.message.message_id == self.fail_on:
            raise RuntimeError("the read model refused it")

    @property
    def ids(self) -> list[str]:
        return [d.message.message_id for d in self.deliveries]


async def test_a_late_consumer_replays_exactly_the_matching_history_in_publish_order(
    bus: Bus,
) -> None:
    keys = ["orders.Placed.v1", "billing.Paid.v1", "orders.eu.Shipped.v1", "stock.Moved.v1"]
    sent = [a_message(keys[i % len(keys)], producer_position=i + 1) for i in range(160)]
    # several publishes, before any consumer queue exists; more than the replay's prefetch
    for start in range(0, len(sent), 40):
        await bus.publish(sent[start : start + 40])

    got = Recorder()
    count = await bus.replay_audit(["orders.#", "billing.Paid.v1"], got)

    expected = [m for m in sent if m.routing_key != "stock.Moved.v1"]
    assert count == len(expected) == 120
    assert got.ids == [m.message_id for m in expected]
    assert [d.message for d in got.deliveries] == expected  # bodies, headers, stamps
    assert {(d.queue, d.delivery_count, d.redelivered) for d in got.deliveries} == {
        (bus.settings.audit_stream, 0, False)
    }


async def test_a_replay_with_no_matching_key_delivers_nothing(bus: Bus) -> None:
    await bus.publish([a_message("stock.Moved.v1") for _ in range(3)])
    got = Recorder()

    assert await bus.replay_audit(["orders.*.v1"], got) == 0
    assert got.deliveries == []


async def test_the_replay_stops_at_the_first_message_stamped_after_until(bus: Bus) -> None:
    now = datetime.now(UTC)
    before = [a_message("orders.Placed.v1", timestamp=now - timedelta(minutes=5)) for _ in range(3)]
    after = [a_message("orders.Placed.v1", timestamp=now + timedelta(minutes=5)) for _ in range(2)]
    await bus.publish(before + after + [a_message("orders.Placed.v1", timestamp=now)])
    got = Recorder()

    assert await bus.replay_audit(["orders.#"], got, until=now) == 3
    assert got.ids == [m.message_id for m in before]


@pytest.mark.parametrize("bus_settings", [{"audit_replay_clock_skew": 0.5}], indirect=True)
async def test_the_replay_ends_while_producers_keep_publishing(bus: Bus) -> None:
    history = [a_message("orders.Placed.v1") for _ in range(5)]
    await bus.publish(history)
    stop = asyncio.Event()

    async def keep_publishing() -> None:
        # a busy stream is never idle: the stamps after the call end the replay
        while not stop.is_set():
            await bus.publish([a_message("stock.Moved.v1"), a_message("orders.Placed.v1")])
            await asyncio.sleep(0.02)

    producer = asyncio.create_task(keep_publishing())
    got = Recorder()
    try:
        started = time.monotonic()
        await asyncio.wait_for(bus.replay_audit(["orders.#"], got), timeout=20)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        await producer

    # all the history, in order; messages published meanwhile may or may not come
    assert got.ids[: len(history)] == [m.message_id for m in history]
    assert elapsed < 10


async def test_a_failing_handler_makes_the_replay_raise_and_stop(bus: Bus) -> None:
    sent = [a_message("orders.Placed.v1") for _ in range(4)]
    await bus.publish(sent)
    failing = Recorder(fail_on=sent[1].message_id)

    with pytest.raises(RuntimeError, match="the read model refused it"):
        await bus.replay_audit(["orders.#"], failing)
    assert failing.ids == [m.message_id for m in sent[:2]]

    # nothing was used up: the next replay (after a fix) sees the whole history
    fixed = Recorder()
    assert await bus.replay_audit(["orders.#"], fixed) == 4
    assert fixed.ids == [m.message_id for m in sent]


@pytest.mark.parametrize("bus_settings", [{"audit": False}], indirect=True)
async def test_a_replay_without_an_audit_stream_is_refused(bus: Bus) -> None:
    with pytest.raises(ReplayError, match="audit is off"):
        await bus.replay_audit(["#"], Recorder())


async def test_a_replay_of_an_empty_stream_returns_0_within_the_idle_period(bus: Bus) -> None:
    started = time.monotonic()

    assert await bus.replay_audit(["#"], Recorder()) == 0
    assert time.monotonic() - started < bus.settings.audit_replay_idle + 3


async def test_declaring_the_live_queue_then_replaying_then_consuming_misses_nothing(
    bus: Bus,
) -> None:
    queue = f"{bus.settings.exchange}.late"
    early = [a_message("orders.Placed.v1") for _ in range(5)]
    await bus.publish(early)
    await bus.declare_queue(queue, ["orders.#"])
    between = [a_message("orders.Placed.v1") for _ in range(3)]
    await bus.publish(between)

    got = Recorder()
    await bus.replay_audit(["orders.#"], got)
    await bus.subscribe(queue, ["orders.#"], got)
    late = [a_message("orders.Placed.v1") for _ in range(2)]
    await bus.publish(late)

    wanted = {m.message_id for m in early + between + late}
    deadline = time.monotonic() + 10
    while not wanted <= set(got.ids) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert wanted <= set(got.ids)
    # the ones published before the queue existed came once, from the replay
    assert [i for i in got.ids if i in {m.message_id for m in early}] == [
        m.message_id for m in early
    ]


#: what only a broker can show (its consumers, a stream deleted under the replay)
amqp_only = pytest.mark.parametrize("bus", ["amqp"], indirect=True)


def open_channels(broker: Broker, bus: Bus) -> int:
    """The channels the broker counts on the bus's connection (named after its exchange)."""
    output = broker.rabbitmqctl("list_connections", "channels", "client_properties", "-q")
    name = f'{{"connection_name","pbx-test {bus.settings.exchange}"}}'
    counts = [int(line.split("\t", 1)[0]) for line in output.splitlines() if name in line]
    assert len(counts) == 1, output
    return counts[0]


@amqp_only
async def test_the_replay_closes_its_channel_even_when_the_handler_fails(
    bus: Bus, amqp_broker: Broker
) -> None:
    sent = [a_message("orders.Placed.v1") for _ in range(3)]
    await bus.publish(sent)
    before = await asyncio.to_thread(open_channels, amqp_broker, bus)
    during: list[int] = []

    async def count_channels(delivery: Delivery) -> None:
        during.append(await asyncio.to_thread(open_channels, amqp_broker, bus))

    assert await bus.replay_audit(["orders.#"], count_channels) == 3
    assert during == [before + 1] * 3  # one channel of its own
    assert await asyncio.to_thread(open_channels, amqp_broker, bus) == before

    with pytest.raises(RuntimeError):
        await bus.replay_audit(["orders.#"], Recorder(fail_on=sent[0].message_id))
    assert await asyncio.to_thread(open_channels, amqp_broker, bus) == before
    assert await bus.is_healthy()


@amqp_only
async def test_a_stream_deleted_during_the_replay_makes_it_raise_not_end_quietly(
    bus: Bus, amqp_url: str
) -> None:
    await bus.publish([a_message("orders.Placed.v1") for _ in range(3)])
    deleted = False

    async def delete_the_stream(delivery: Delivery) -> None:
        nonlocal deleted
        if not deleted:
            deleted = True
            connection = await aio_pika.connect(amqp_url)
            try:
                channel = await connection.channel()
                await channel.queue_delete(bus.settings.audit_stream)
            finally:
                await connection.close()

    with pytest.raises(ReplayError):
        await bus.replay_audit(["orders.#"], delete_the_stream)
