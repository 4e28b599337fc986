"""What operators see: a consumed message's ids in every log line of its handling, the
dead-letter depth per queue and the relay lag as Prometheus gauges."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog
from eventsourcing.domain import Aggregate, event
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from pbx_events.bus import Bus, Delivery, refresh_dead_letter_gauge
from pbx_events.envelope import Message
from pbx_events.identity import AccountRegistered
from pbx_events.inbox import Inbox
from pbx_events.relay import FollowerSettings, OutboxRelay
from pbx_events.store import ServiceApplication

WAIT = 10.0


async def eventually(predicate: Any, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def a_message(routing_key: str, **headers: Any) -> Message:
    return Message(
        routing_key=routing_key,
        body=json.dumps({"key": routing_key}).encode(),
        message_id=str(uuid4()),
        type=routing_key,
        app_id=routing_key.split(".")[0],
        timestamp=datetime.now(UTC).replace(microsecond=0),
        headers={"schema_version": 1, **headers},
    )


async def test_every_log_line_of_a_handler_carries_the_message_ids(bus: Bus) -> None:
    queue = f"{bus.settings.exchange}.logs"
    message = a_message("orders.Placed.v1", correlation_id="corr-42", causation_id="req-7")
    handled: list[str] = []
    logger = structlog.get_logger("test.handler")

    async def handler(delivery: Delivery) -> None:
        logger.info("handler_did_something")
        handled.append(delivery.message.message_id)

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await bus.subscribe(queue, ["orders.#"], handler)
        await bus.publish([message])
        await eventually(lambda: handled, "the message")
    line = next(entry for entry in logs if entry["event"] == "handler_did_something")
    assert line["correlation_id"] == "corr-42"
    assert line["causation_id"] == "req-7"
    assert line["message_id"] == message.message_id
    assert line["queue"] == queue


@pytest.mark.parametrize("bus_settings", [{"retry_base_delay": 0.01}], indirect=True)
async def test_a_dead_lettered_message_shows_in_pbx_dlq_messages(bus: Bus) -> None:
    queue = f"{bus.settings.exchange}.poison"
    assert await refresh_dead_letter_gauge(bus, [queue]) == {queue: 0}  # never declared

    async def handler(delivery: Delivery) -> None:
        raise ValueError("cannot be handled, ever")

    await bus.subscribe(queue, ["orders.#"], handler)
    await bus.publish([a_message("orders.Poisoned.v1")])

    counts: dict[str, int] = {}

    async def dead_lettered() -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while loop.time() < deadline:
            counts.update(await refresh_dead_letter_gauge(bus, [queue]))
            if counts[queue] == 1:
                return
            await asyncio.sleep(0.05)

    await dead_lettered()
    assert counts == {queue: 1}
    assert REGISTRY.get_sample_value("pbx_dlq_messages", {"queue": queue}) == 1.0
    assert len(await bus.dead_letters(queue)) == 1
    await refresh_dead_letter_gauge(bus, [queue])
    assert REGISTRY.get_sample_value("pbx_dlq_messages", {"queue": queue}) == 0.0


class Signup(Aggregate):
    @event("Registered")
    def __init__(self, login_id: str) -> None:
        self.login_id = login_id


class SignupApp(ServiceApplication):
    def register(self, login_id: str) -> UUID:
        signup = Signup(login_id)
        self.save(signup)
        return signup.id


def to_integration(domain_event: Any) -> list[AccountRegistered]:
    return [
        AccountRegistered(
            account_id=domain_event.originator_id,
            login_id=domain_event.login_id,
            contractor_type="individual",
            email_domain_class="business",
            screening_phone_is_fixed_line=True,
            registered_at=datetime.now(UTC),
        )
    ]


async def test_the_running_relay_sets_pbx_relay_lag(bus: Bus) -> None:
    producer = f"lagtest{uuid4().hex[:6]}"
    app = SignupApp()
    for i in range(3):
        app.register(f"PBX{i}")
    relay = OutboxRelay(app, producer, to_integration, bus, FollowerSettings(poll_interval=0.05))
    await relay.lag()
    assert REGISTRY.get_sample_value("pbx_relay_lag", {"service": producer}) == 3.0
    got: list[str] = []

    async def collect(delivery: Delivery) -> None:
        got.append(delivery.message.message_id)

    await bus.subscribe(f"{bus.settings.exchange}.lag", ["identity.#"], collect)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(
            lambda: (
                REGISTRY.get_sample_value("pbx_relay_lag", {"service": producer}) == 0.0
                and len(got) == 3
            ),
            "the relay to publish everything",
        )
        app.register("PBX3")
        await eventually(lambda: len(got) == 4, "the fourth message")
        await eventually(
            lambda: REGISTRY.get_sample_value("pbx_relay_lag", {"service": producer}) == 0.0,
            "the lag back at 0",
        )
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    app.close()


class Tally(Aggregate):
    @event("Started")
    def __init__(self) -> None:
        self.seen: list[str] = []

    @event("Counted")
    def count(self, login_id: str) -> None:
        self.seen.append(login_id)


class TallyApp(ServiceApplication):
    def __init__(self) -> None:
        super().__init__()
        tally = Tally()
        self.save(tally)
        self.tally_id = tally.id


async def test_inbox_decisions_log_each_message_s_ids_and_count_handled_and_duplicates(
    bus: Bus,
) -> None:
    producer, consumer = SignupApp(), TallyApp()
    queue = f"{bus.settings.exchange}.tally"
    logger = structlog.get_logger("test.decide")

    def decide(integration_event: Any, message: Message) -> list[Tally]:
        logger.info("deciding", login_id=integration_event.login_id)
        tally = consumer.repository.get(consumer.tally_id)
        tally.count(integration_event.login_id)
        return [tally]

    relay = OutboxRelay(producer, "identity", to_integration, bus)
    from pbx_events import context

    for name in ("A", "B"):
        with context.caused_by(f"corr-{name}", f"req-{name}"):
            producer.register(name)
    messages = relay.messages_for(
        [(n.id, producer.mapper.to_domain_event(n)) for n in producer.notifications_after(0, 10)]
    )
    handled_before = REGISTRY.get_sample_value("pbx_inbox_handled_total", {"queue": queue}) or 0
    dupes_before = REGISTRY.get_sample_value("pbx_inbox_duplicates_total", {"queue": queue}) or 0
    inbox = Inbox(consumer, queue)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await bus.subscribe(queue, ["identity.AccountRegistered.v1"], inbox.handler(decide))
        await bus.publish(messages)
        await eventually(lambda: len(consumer.repository.get(consumer.tally_id).seen) == 2, "2")
        await bus.publish(messages[:1])
        await eventually(
            lambda: (
                REGISTRY.get_sample_value("pbx_inbox_duplicates_total", {"queue": queue})
                == dupes_before + 1
            ),
            "the duplicate",
        )
    by_login = {entry["login_id"]: entry for entry in logs if entry["event"] == "deciding"}
    for name, message in zip(("A", "B"), messages, strict=True):
        assert by_login[name]["correlation_id"] == f"corr-{name}"
        assert by_login[name]["message_id"] == message.message_id
        assert by_login[name]["queue"] == queue
    assert (
        REGISTRY.get_sample_value("pbx_inbox_handled_total", {"queue": queue}) == handled_before + 2
    )
    producer.close()
    consumer.close()
