"""The bus contract (pbx_events.bus), run on the in-process bus and on RabbitMQ alike."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import aio_pika
import pytest
from aio_pika import DeliveryMode

from pbx_events.amqp import AmqpBus
from pbx_events.bus import Bus, Delivery, PublishError
from pbx_events.envelope import Message
from pbx_kit.testing import Broker

WAIT = 10.0


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = WAIT
) -> None:
    """Poll until ``predicate`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def a_message(routing_key: str, **headers: Any) -> Message:
    return Message(
        routing_key=routing_key,
        body=json.dumps({"key": routing_key, "name": "山田太郎"}).encode(),
        message_id=str(uuid4()),
        type=routing_key,
        app_id=routing_key.split(".")[0],
        # AMQP timestamps have a resolution of one second
        timestamp=datetime.now(UTC).replace(microsecond=0),
        headers={"schema_version": 1, **headers},
    )


#: tests of what only a broker can show (persistence, its connections) run on RabbitMQ only
amqp_only = pytest.mark.parametrize("bus", ["amqp"], indirect=True)


async def test_topic_bindings_route_exactly_the_matching_messages(bus: Bus) -> None:
    prefix = bus.settings.exchange
    received: dict[str, list[str]] = {"star": [], "hash": [], "suffix": []}

    def collect(name: str) -> Callable[[Delivery], Awaitable[None]]:
        async def handler(delivery: Delivery) -> None:
            received[name].append(delivery.message.routing_key)

        return handler

    await bus.subscribe(f"{prefix}.star", ["orders.*.v1"], collect("star"))
    await bus.subscribe(f"{prefix}.hash", ["orders.#"], collect("hash"))
    await bus.subscribe(f"{prefix}.suffix", ["#.v1"], collect("suffix"))
    keys = [
        "orders.Placed.v1",
        "orders.Placed.v2",
        "orders.eu.Placed.v1",
        "orders",
        "billing.Paid.v1",
        "billing.Paid.v2",
    ]
    await bus.publish([a_message(k) for k in keys])
    # each queue is FIFO: once the sentinel arrives everywhere, nothing else is on its way
    sentinel = "orders.Sentinel.v1"
    await bus.publish([a_message(sentinel)])
    await eventually(lambda: all(sentinel in r for r in received.values()), "the sentinel")

    assert sorted(received["star"]) == sorted(["orders.Placed.v1", sentinel])
    assert sorted(received["hash"]) == sorted(
        ["orders.Placed.v1", "orders.Placed.v2", "orders.eu.Placed.v1", "orders", sentinel]
    )
    assert sorted(received["suffix"]) == sorted(
        ["orders.Placed.v1", "orders.eu.Placed.v1", "billing.Paid.v1", sentinel]
    )


async def test_properties_and_headers_round_trip(bus: Bus) -> None:
    queue = f"{bus.settings.exchange}.envelope"
    deliveries: list[Delivery] = []

    async def handler(delivery: Delivery) -> None:
        deliveries.append(delivery)

    await bus.subscribe(queue, ["identity.AccountRegistered.v1"], handler)
    sent = a_message(
        "identity.AccountRegistered.v1",
        correlation_id=str(uuid4()),
        causation_id=str(uuid4()),
        producer_position=2**40 + 7,
    )
    await bus.publish([sent])
    await eventually(lambda: len(deliveries) == 1, "the delivery")

    delivery = deliveries[0]
    assert delivery.message == sent
    assert (delivery.queue, delivery.delivery_count, delivery.redelivered) == (queue, 0, False)
    got = delivery.message
    assert (got.message_id, got.type, got.app_id) == (sent.message_id, sent.type, "identity")
    assert got.correlation_id == sent.headers["correlation_id"]
    assert got.causation_id == sent.headers["causation_id"]
    assert got.headers["producer_position"] == 2**40 + 7
    assert type(got.headers["producer_position"]) is int
    assert got.headers["schema_version"] == 1
    assert got.timestamp == sent.timestamp
    assert got.body == sent.body


async def test_a_failing_handler_sees_the_message_again_until_it_succeeds(bus: Bus) -> None:
    queue = f"{bus.settings.exchange}.retry"
    seen: list[tuple[int, bool]] = []
    effects: list[str] = []

    async def flaky(delivery: Delivery) -> None:
        seen.append((delivery.delivery_count, delivery.redelivered))
        if len(seen) <= 2:
            raise RuntimeError("the database is briefly unavailable")
        effects.append(delivery.message.message_id)

    await bus.subscribe(queue, ["retry.#"], flaky)
    sent = a_message("retry.Happened.v1")
    await bus.publish([sent])
    await eventually(lambda: len(effects) == 1, "the third, successful delivery")

    assert seen == [(0, False), (1, True), (2, True)]
    # acked: after a restart a new consumer gets only what is published afterwards
    await bus.close()
    await bus.connect()
    later: list[str] = []

    async def record(delivery: Delivery) -> None:
        later.append(delivery.message.message_id)

    await bus.subscribe(queue, ["retry.#"], record)
    sentinel = a_message("retry.Sentinel.v1")
    await bus.publish([sentinel])
    await eventually(lambda: sentinel.message_id in later, "the sentinel")
    assert later == [sentinel.message_id]
    assert effects == [sent.message_id]
    assert len(seen) == 3
    assert await bus.dead_letters(queue) == []


@pytest.mark.parametrize("bus_settings", [{"retry_base_delay": 0.1}], indirect=True)
async def test_a_poison_message_is_dead_lettered_without_blocking_the_others(bus: Bus) -> None:
    queue = f"{bus.settings.exchange}.poison"
    limit = bus.settings.delivery_limit
    poison = a_message("orders.Poisoned.v1", correlation_id="c-1")
    later = [a_message("orders.Placed.v1") for _ in range(20)]
    poison_counts: list[int] = []
    handled: set[str] = set()
    poison_attempts_when_others_done: list[int] = []

    async def handler(delivery: Delivery) -> None:
        if delivery.message.message_id == poison.message_id:
            poison_counts.append(delivery.delivery_count)
            raise ValueError("cannot be handled, ever")
        handled.add(delivery.message.message_id)
        if len(handled) == len(later):
            poison_attempts_when_others_done.append(len(poison_counts))

    await bus.subscribe(queue, ["orders.#"], handler)
    await bus.publish([poison])
    await eventually(lambda: len(poison_counts) >= 1, "the poison's first delivery")
    await bus.publish(later)
    await eventually(lambda: len(handled) == len(later), "the 20 later messages")

    dead: list[Message] = []

    async def drained() -> bool:
        dead.extend(await bus.dead_letters(queue))
        return bool(dead)

    await eventually(drained, "the dead letter")
    assert dead == [poison]
    assert poison_counts == list(range(limit + 1))
    # the others did not wait for the poison's retries to run out
    assert poison_attempts_when_others_done[0] <= limit
    assert handled == {m.message_id for m in later}


@pytest.mark.parametrize("bus_settings", [{"audit": False}], indirect=True)
async def test_an_unroutable_message_is_not_confirmed(bus: Bus) -> None:
    with pytest.raises(PublishError):
        await bus.publish([a_message("nobody.Listens.v1")])

    # the bus is still usable afterwards
    got: list[str] = []

    async def handler(delivery: Delivery) -> None:
        got.append(delivery.message.message_id)

    await bus.subscribe(f"{bus.settings.exchange}.listener", ["somebody.#"], handler)
    sent = a_message("somebody.Listens.v1")
    await bus.publish([sent])
    await eventually(lambda: got == [sent.message_id], "the routable message")


async def test_the_audit_stream_makes_every_message_routable(bus: Bus) -> None:
    assert bus.settings.audit
    await bus.publish([a_message("nobody.Listens.v1")])


@amqp_only
async def test_messages_wait_in_the_durable_queue_for_a_later_consumer(
    bus: Bus, request: pytest.FixtureRequest
) -> None:
    queue = f"{bus.settings.exchange}.later"
    await bus.declare_queue(queue, ["stock.#"])
    sent = [a_message("stock.Reserved.v1") for _ in range(5)]
    await bus.publish(sent)
    await bus.close()

    # persistent on the wire, and still there with no connection of the bus open
    connection = await aio_pika.connect(request.getfixturevalue("amqp_url"))
    try:
        channel = await connection.channel()
        peeked = await (await channel.get_queue(queue)).get(no_ack=False)
        assert peeked.delivery_mode == DeliveryMode.PERSISTENT
        await peeked.nack(requeue=True)
    finally:
        await connection.close()

    await bus.connect()
    got: set[str] = set()

    async def handler(delivery: Delivery) -> None:
        got.add(delivery.message.message_id)

    await bus.subscribe(queue, ["stock.#"], handler)
    await eventually(lambda: got == {m.message_id for m in sent}, "all five messages")


async def publish_until_confirmed(bus: Bus, message: Message, timeout: float = 30.0) -> int:
    """Publish like the outbox relay: retry on PublishError; returns the failed attempts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    failures = 0
    while True:
        try:
            await bus.publish([message])
            return failures
        except PublishError:
            failures += 1
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.mark.infra
@amqp_only
async def test_consumers_recover_after_the_broker_closes_all_connections(
    bus: Bus, request: pytest.FixtureRequest
) -> None:
    assert isinstance(bus, AmqpBus)
    broker: Broker = request.getfixturevalue("amqp_broker")
    queue = f"{bus.settings.exchange}.calls"
    handled: set[str] = set()

    async def handler(delivery: Delivery) -> None:
        handled.add(delivery.message.message_id)

    await bus.subscribe(queue, ["calls.#"], handler)
    sent = [a_message("calls.Started.v1") for _ in range(50)]
    for i, message in enumerate(sent):
        if i == len(sent) // 2:
            output = await asyncio.to_thread(broker.rabbitmqctl, "close_all_connections", "test")
            closed = re.search(r"Closed (\d+) connection", output)
            assert closed is not None and int(closed.group(1)) >= 1, output
        await publish_until_confirmed(bus, message)

    await eventually(lambda: bus.reconnects >= 1, "the reconnection")
    await eventually(lambda: handled >= {m.message_id for m in sent}, "all 50 messages", 30.0)
    assert await bus.is_healthy()
