"""Outbox relay and inbox on the in-memory store and the in-process bus: publish
from the log, position saved only after confirms, effects exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate, event

from pbx_events import context
from pbx_events.bus import BusSettings, Delivery, PublishError
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message
from pbx_events.identity import AccountRegistered
from pbx_events.inbox import Inbox
from pbx_events.memory import InMemoryBus
from pbx_events.relay import OutboxRelay, RelaySettings
from pbx_events.store import ServiceApplication


class Signup(Aggregate):
    @event("Registered")
    def __init__(self, login_id: str) -> None:
        self.login_id = login_id


class SignupApp(ServiceApplication):
    def register(self, login_id: str) -> UUID:
        signup = Signup(login_id)
        self.save(signup)
        return signup.id


def to_integration(domain_event: Any) -> Sequence[IntegrationEvent]:
    if isinstance(domain_event, Signup.Registered):
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
    return []


class Tally(Aggregate):
    """A consumer-side aggregate counting the effects of messages."""

    @event("Started")
    def __init__(self) -> None:
        self.seen: list[str] = []

    @event("Counted")
    def count(self, login_id: str) -> None:
        self.seen.append(login_id)


class TallyApp(ServiceApplication):
    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        tally = Tally()
        self.save(tally)
        self.tally_id = tally.id

    def decide(self, event: IntegrationEvent, message: Message) -> list[Tally]:
        assert isinstance(event, AccountRegistered)
        tally = self.repository.get(self.tally_id)
        tally.count(event.login_id)
        return [tally]

    def seen(self) -> list[str]:
        return list(self.repository.get(self.tally_id).seen)


async def eventually(predicate: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def bus() -> Any:
    bus = InMemoryBus(BusSettings(retry_base_delay=0.001))
    await bus.connect()
    yield bus
    await bus.close()


async def test_relay_publishes_each_event_with_its_correlation_and_saves_position(
    bus: InMemoryBus,
) -> None:
    app = SignupApp()
    got: list[Message] = []

    async def collect(delivery: Delivery) -> None:
        got.append(delivery.message)

    await bus.subscribe("test.collect", ["identity.#"], collect)
    with context.caused_by("corr-1", "req-1"):
        app.register("PBX1")
    app.register("PBX2")
    relay = OutboxRelay(app, "identity", to_integration, bus)
    assert await relay.run_once() == 2
    await eventually(lambda: len(got) == 2)
    assert [m.producer_position for m in got] == [1, 2]
    assert got[0].correlation_id == "corr-1"
    assert got[0].causation_id == "req-1"
    assert got[1].correlation_id is None
    assert app.position("relay:identity") == 2
    assert await relay.run_once() == 0


async def test_relay_keeps_its_position_when_the_broker_does_not_confirm(
    bus: InMemoryBus,
) -> None:
    app = SignupApp()
    app.register("PBX1")
    relay = OutboxRelay(app, "identity", to_integration, bus)
    await bus.close()  # publish now raises PublishError
    with pytest.raises(PublishError):
        await relay.run_once()
    assert app.position("relay:identity") == 0
    await bus.connect()
    assert await relay.run_once() == 1
    assert app.position("relay:identity") == 1


async def test_relay_killed_after_confirm_before_saving_republishes_with_same_id_and_inbox_applies_once(
    bus: InMemoryBus,
) -> None:
    producer = SignupApp()
    consumer = TallyApp()
    inbox = Inbox(consumer, "tally.accounts")
    await bus.subscribe(
        "tally.accounts", ["identity.AccountRegistered.v1"], inbox.handler(consumer.decide)
    )
    producer.register("PBX1")

    class DiesBeforeSaving(OutboxRelay):
        async def handle_batch(self, batch: Any) -> None:
            await super().handle_batch(batch)
            raise asyncio.CancelledError  # killed between the confirm and saving its position

    with pytest.raises(asyncio.CancelledError):
        await DiesBeforeSaving(producer, "identity", to_integration, bus).run_once()
    assert producer.position("relay:identity") == 0
    assert await OutboxRelay(producer, "identity", to_integration, bus).run_once() == 1
    await eventually(lambda: bus.pending("tally.accounts") == 0 and len(consumer.seen()) >= 1)
    await asyncio.sleep(0.05)
    assert consumer.seen() == ["PBX1"]


async def test_inbox_applies_out_of_order_redeliveries_exactly_once() -> None:
    producer = SignupApp()
    for i in range(1, 4):
        producer.register(f"PBX{i}")
    relay = OutboxRelay(producer, "identity", to_integration, InMemoryBus())
    messages = relay.messages_for(
        [(n.id, producer.mapper.to_domain_event(n)) for n in producer.notifications_after(0, 10)]
    )
    consumer = TallyApp()
    inbox = Inbox(consumer, "tally.accounts")
    order = [2, 0, 1, 0, 2, 1, 0]  # newer before older, each more than once
    applied = [inbox.handle(messages[i], consumer.decide) for i in order]
    assert applied == [True, True, True, False, False, False, False]
    assert sorted(consumer.seen()) == ["PBX1", "PBX2", "PBX3"]
    assert len(consumer.seen()) == 3


async def test_relay_follows_the_log_while_running(bus: InMemoryBus) -> None:
    app = SignupApp()
    got: list[str] = []

    async def collect(delivery: Delivery) -> None:
        got.append(delivery.message.message_id)

    await bus.subscribe("test.follow", ["#"], collect)
    relay = OutboxRelay(app, "identity", to_integration, bus, RelaySettings(poll_interval=0.01))
    task = asyncio.create_task(relay.run())
    try:
        for i in range(5):
            app.register(f"PBX{i}")
        await eventually(lambda: len(got) == 5)
        for _ in range(200):
            if await relay.lag() == 0:
                break
            await asyncio.sleep(0.01)
        assert await relay.lag() == 0
    finally:
        task.cancel()
    assert len(set(got)) == 5
