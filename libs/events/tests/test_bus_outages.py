"""Consumers during a database outage, on the in-process bus and on RabbitMQ alike: a
handler that finds PostgreSQL out of reach keeps its message and tries again, without
spending the message's delivery limit; any other error is still redelivered and, past
the limit, dead-lettered."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from pbx_events.bus import Bus, Delivery
from pbx_events.envelope import Message

QUICK_PAUSES = {"unavailable_first_pause": 0.01, "unavailable_max_pause": 0.05}


def a_message(routing_key: str) -> Message:
    return Message(
        routing_key=routing_key,
        body=json.dumps({"key": routing_key}).encode(),
        message_id=str(uuid4()),
        type=routing_key,
        app_id=routing_key.split(".")[0],
        timestamp=datetime.now(UTC).replace(microsecond=0),
        headers={"schema_version": 1},
    )


async def until(predicate: object, what: str, timeout: float = 10.0) -> None:
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("bus_settings", [QUICK_PAUSES], indirect=True)
async def test_a_handler_finding_the_database_down_keeps_its_message_until_it_is_back(
    bus: Bus,
) -> None:
    queue = f"{bus.settings.exchange}.outage"
    outage_tries = bus.settings.delivery_limit * 3
    seen: list[int] = []
    effects: list[str] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.delivery_count)
        if len(seen) <= outage_tries // 2:
            raise OperationalError("couldn't get a connection after 2.00 sec")
        if len(seen) <= outage_tries:
            raise psycopg.OperationalError("connection refused")
        effects.append(delivery.message.message_id)

    await bus.subscribe(queue, ["outage.#"], handler)
    sent = a_message("outage.Happened.v1")
    await bus.publish([sent])
    await until(lambda: effects, "the try after the outage")
    await asyncio.sleep(0.3)  # a redelivery would show now

    assert effects == [sent.message_id]
    # one delivery, tried again in place: the delivery limit was not spent on the outage
    assert seen == [0] * (outage_tries + 1)
    assert await bus.dead_letters(queue) == []


@pytest.mark.parametrize(
    "bus_settings", [{**QUICK_PAUSES, "retry_base_delay": 0.01}], indirect=True
)
async def test_a_bug_in_a_handler_is_still_dead_lettered_past_the_delivery_limit(
    bus: Bus,
) -> None:
    queue = f"{bus.settings.exchange}.bug"
    seen: list[int] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.delivery_count)
        raise KeyError("a bug, not an outage")

    await bus.subscribe(queue, ["bug.#"], handler)
    sent = a_message("bug.Happened.v1")
    await bus.publish([sent])
    dead: list[Message] = []

    async def drain() -> None:
        while not dead:
            dead.extend(await bus.dead_letters(queue))
            await asyncio.sleep(0.05)

    await asyncio.wait_for(drain(), 15)
    assert [m.message_id for m in dead] == [sent.message_id]
    assert seen == list(range(bus.settings.delivery_limit + 1))


@pytest.mark.parametrize(
    "bus_settings",
    [{**QUICK_PAUSES, "retry_base_delay": 0.01, "unavailable_hold": 0.2}],
    indirect=True,
)
async def test_an_outage_longer_than_the_hold_spends_deliveries_as_any_failure(bus: Bus) -> None:
    queue = f"{bus.settings.exchange}.long"
    seen: list[int] = []

    async def handler(delivery: Delivery) -> None:
        seen.append(delivery.delivery_count)
        if delivery.delivery_count < 2:
            raise OperationalError("still down")

    await bus.subscribe(queue, ["long.#"], handler)
    await bus.publish([a_message("long.Happened.v1")])
    await until(lambda: seen and seen[-1] == 2, "the third delivery")
    assert sorted(set(seen)) == [0, 1, 2]
    assert await bus.dead_letters(queue) == []
