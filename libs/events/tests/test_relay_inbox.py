"""Outbox relay and inbox, the same tests on the in-memory store with the in-process bus
and on real PostgreSQL with RabbitMQ: publish from the log, position saved only after
the confirms, every effect exactly once, whatever the faults."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event

from pbx_events import context
from pbx_events.bus import BusSettings, Delivery, PublishError
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message
from pbx_events.identity import AccountRegistered
from pbx_events.inbox import Inbox
from pbx_events.memory import InMemoryBus
from pbx_events.relay import FollowerSettings, OutboxRelay
from pbx_events.store import ServiceApplication, ensure_schema, event_meta, postgres_env
from pbx_kit.testing import Broker, Stack, delete_exchange


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


async def eventually(predicate: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class World:
    kind: str
    bus: Any
    producer: SignupApp
    consumer: TallyApp
    queues: list[str]

    def relay(self, cls: type[OutboxRelay] = OutboxRelay, **settings: Any) -> OutboxRelay:
        return cls(
            self.producer,
            "identity",
            to_integration,
            self.bus,
            FollowerSettings(poll_interval=0.05, retry_delay=0.05, **settings),
        )

    async def consume(self, handler: Any, keys: Sequence[str] = ("identity.#",)) -> str:
        queue = f"test.{uuid4().hex[:8]}"
        self.queues.append(queue)
        await self.bus.subscribe(queue, list(keys), handler)
        return queue

    async def tally(self) -> str:
        queue = f"tally.{uuid4().hex[:8]}"
        self.queues.append(queue)
        inbox = Inbox(self.consumer, queue)
        await self.bus.subscribe(
            queue, ["identity.AccountRegistered.v1"], inbox.handler(self.consumer.decide)
        )
        return queue


@pytest.fixture
async def world(stack: Stack) -> AsyncIterator[World]:
    settings = BusSettings(
        exchange=stack.settings.exchange, retry_base_delay=0.01, delivery_limit=3
    )
    if stack.kind == "memory":
        bus: Any = InMemoryBus(settings)
        producer, consumer = SignupApp(), TallyApp()
    else:
        from pbx_events.amqp import AmqpBus

        bus = AmqpBus(stack.settings.amqp_url, settings)
        assert stack.database_url
        ensure_schema(stack.database_url, "producer")
        ensure_schema(stack.database_url, "consumer")
        producer = SignupApp(postgres_env(stack.database_url, "producer"))
        consumer = TallyApp(postgres_env(stack.database_url, "consumer"))
    await bus.connect()
    world = World(stack.kind, bus, producer, consumer, [])
    yield world
    await bus.close()
    producer.close()
    consumer.close()
    if stack.kind == "real":
        await delete_exchange(stack.settings.amqp_url, settings.exchange, tuple(world.queues))


def positions_of(messages: list[Message]) -> list[int]:
    return [m.producer_position or 0 for m in messages]


async def test_relay_publishes_each_event_with_its_correlation_and_saves_position(
    world: World,
) -> None:
    got: list[Message] = []

    async def collect(delivery: Delivery) -> None:
        got.append(delivery.message)

    await world.consume(collect)
    with context.caused_by("corr-1", "req-1"):
        world.producer.register("PBX1")
    world.producer.register("PBX2")
    relay = world.relay()
    assert await relay.run_once() == 2
    await eventually(lambda: len(got) == 2)
    got.sort(key=lambda m: m.producer_position or 0)
    assert positions_of(got) == [1, 2]
    assert got[0].correlation_id == "corr-1"
    assert got[0].causation_id == "req-1"
    assert got[1].correlation_id is None
    assert world.producer.position("relay:identity") == 2
    assert await relay.run_once() == 0


async def test_relay_keeps_its_position_when_the_broker_does_not_confirm(world: World) -> None:
    world.producer.register("PBX1")
    relay = world.relay()
    await world.bus.close()  # publish now fails: nothing is confirmed
    with pytest.raises(PublishError):
        await relay.run_once()
    assert world.producer.position("relay:identity") == 0
    await world.bus.connect()
    assert await relay.run_once() == 1
    assert world.producer.position("relay:identity") == 1


async def test_relay_killed_after_the_confirm_before_saving_republishes_and_the_effect_is_single(
    world: World,
) -> None:
    await world.tally()
    world.producer.register("PBX1")
    deliveries = 0

    class DiesBeforeSaving(OutboxRelay):
        async def handle_batch(self, batch: Any, prepared: Any = None) -> None:
            nonlocal deliveries
            await super().handle_batch(batch, prepared)
            deliveries += 1
            raise asyncio.CancelledError  # killed between the confirm and saving its position

    with pytest.raises(asyncio.CancelledError):
        await world.relay(DiesBeforeSaving).run_once()
    assert deliveries == 1
    assert world.producer.position("relay:identity") == 0
    assert await world.relay().run_once() == 1  # a new relay publishes the same event again
    await eventually(lambda: len(world.consumer.seen()) >= 1)
    await asyncio.sleep(0.5)  # the duplicate arrives meanwhile and is skipped
    assert world.consumer.seen() == ["PBX1"]


async def test_inbox_applies_out_of_order_redeliveries_exactly_once(world: World) -> None:
    for i in range(1, 4):
        world.producer.register(f"PBX{i}")
    notifications = world.producer.notifications_after(0, 10)
    messages = world.relay().messages_for(
        [(n.id, world.producer.mapper.to_domain_event(n)) for n in notifications]
    )
    inbox = Inbox(world.consumer, "tally.accounts")
    order = [2, 0, 1, 0, 2, 1, 0]  # newer before older, each more than once
    applied = [inbox.handle(messages[i], world.consumer.decide) for i in order]
    assert applied == [True, True, True, False, False, False, False]
    assert sorted(world.consumer.seen()) == ["PBX1", "PBX2", "PBX3"]


async def test_redelivered_messages_through_the_bus_take_effect_once(world: World) -> None:
    for i in range(1, 6):
        world.producer.register(f"PBX{i}")
    await world.tally()
    relay = world.relay()
    messages = relay.messages_for(
        [
            (n.id, world.producer.mapper.to_domain_event(n))
            for n in world.producer.notifications_after(0, 10)
        ]
    )
    # the broker hands them over again, newest first, then all of them once more
    await world.bus.publish(list(reversed(messages)))
    await world.bus.publish(messages)
    await eventually(lambda: len(world.consumer.seen()) >= 5)
    await asyncio.sleep(0.5)
    assert sorted(world.consumer.seen()) == [f"PBX{i}" for i in range(1, 6)]


async def test_relay_follows_the_log_while_running(world: World) -> None:
    got: list[str] = []

    async def collect(delivery: Delivery) -> None:
        got.append(delivery.message.message_id)

    await world.consume(collect)
    relay = world.relay()
    task = asyncio.create_task(relay.run())
    try:
        for i in range(5):
            await asyncio.to_thread(world.producer.register, f"PBX{i}")
        await eventually(lambda: len(got) == 5)
        for _ in range(200):
            if await relay.lag() == 0:
                break
            await asyncio.sleep(0.02)
        assert await relay.lag() == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(set(got)) == 5


@pytest.mark.parametrize("stack_kind", ["real"])
async def test_relay_and_consumers_recover_when_the_broker_closes_every_connection(
    world: World, request: pytest.FixtureRequest
) -> None:
    broker: Broker = request.getfixturevalue("amqp_broker")
    await world.tally()
    relay = world.relay()
    task = asyncio.create_task(relay.run())
    try:
        for i in range(40):
            await asyncio.to_thread(world.producer.register, f"PBX{i:02d}")
            if i == 20:
                await asyncio.to_thread(broker.rabbitmqctl, "close_all_connections", "fault")
        await eventually(lambda: len(world.consumer.seen()) >= 40, timeout=60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await asyncio.sleep(0.5)
    assert sorted(world.consumer.seen()) == [f"PBX{i:02d}" for i in range(40)]


class Receipt(Aggregate):
    """One aggregate per message: the inbox can commit many of these together."""

    @event("Issued")
    def __init__(self, login_id: str) -> None:
        self.login_id = login_id


class ReceiptApp(ServiceApplication):
    def decide(self, event: IntegrationEvent, message: Message) -> list[Receipt]:
        assert isinstance(event, AccountRegistered)
        if event.login_id == "POISON":
            raise ValueError("cannot handle this one")
        return [Receipt(event.login_id)]

    def receipts(self) -> list[tuple[str, dict[str, str]]]:
        return [
            (n.login_id, event_meta(n))
            for n in (self.mapper.to_domain_event(x) for x in self.notifications_after(0, 1000))
        ]


@pytest.fixture
def receipts(stack: Stack) -> Iterator[ReceiptApp]:
    if stack.kind == "memory":
        app = ReceiptApp()
    else:
        assert stack.database_url
        ensure_schema(stack.database_url, "receipts")
        app = ReceiptApp(postgres_env(stack.database_url, "receipts"))
    yield app
    app.close()


def signup_messages(world: World, names: Sequence[str]) -> list[Message]:
    for name in names:
        with context.caused_by(f"corr-{name}", f"req-{name}"):
            world.producer.register(name)
    return world.relay().messages_for(
        [
            (n.id, world.producer.mapper.to_domain_event(n))
            for n in world.producer.notifications_after(0, 1000)
        ]
    )


async def test_inbox_commits_a_batch_together_each_event_with_its_own_correlation(
    world: World, receipts: ReceiptApp
) -> None:
    messages = signup_messages(world, [f"PBX{i}" for i in range(10)])
    inbox = Inbox(receipts, "receipts.accounts")
    results = inbox.handle_many([(m, receipts.decide) for m in messages])
    assert results == [True] * 10
    seen = receipts.receipts()
    assert sorted(name for name, _ in seen) == sorted(f"PBX{i}" for i in range(10))
    for name, meta in seen:
        assert meta["correlation_id"] == f"corr-{name}"
    assert inbox.handle_many([(m, receipts.decide) for m in messages]) == [False] * 10
    assert len(receipts.receipts()) == 10


async def test_a_failing_message_in_a_batch_fails_alone_and_duplicates_are_skipped(
    world: World, receipts: ReceiptApp
) -> None:
    first, poison, third = signup_messages(world, ["PBX1", "POISON", "PBX3"])
    inbox = Inbox(receipts, "receipts.accounts")
    results = inbox.handle_many([(m, receipts.decide) for m in (first, poison, third, first)])
    assert results[0] is True
    assert isinstance(results[1], ValueError)
    assert results[2:] == [True, False]
    assert sorted(name for name, _ in receipts.receipts()) == ["PBX1", "PBX3"]


async def test_a_burst_through_the_bus_is_applied_once_each(
    world: World, receipts: ReceiptApp
) -> None:
    messages = signup_messages(world, [f"PBX{i:02d}" for i in range(60)])
    queue = f"receipts.{uuid4().hex[:8]}"
    world.queues.append(queue)
    inbox = Inbox(receipts, queue)
    await world.bus.subscribe(queue, ["identity.#"], inbox.handler(receipts.decide))
    await world.bus.publish(messages)
    await world.bus.publish(messages[::2])  # redelivered duplicates
    await eventually(lambda: len(receipts.receipts()) >= 60)
    await asyncio.sleep(0.5)
    assert sorted(name for name, _ in receipts.receipts()) == [f"PBX{i:02d}" for i in range(60)]


@pytest.mark.parametrize("stack_kind", ["real"])
async def test_the_relay_is_woken_by_listen_notify_not_by_polling(world: World) -> None:
    got: list[str] = []

    async def collect(delivery: Delivery) -> None:
        got.append(delivery.message.message_id)

    await world.consume(collect)
    relay = OutboxRelay(
        world.producer,
        "identity",
        to_integration,
        world.bus,
        FollowerSettings(poll_interval=60.0),  # polling alone would take a minute
    )
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.5)  # the relay is idle, waiting
        await asyncio.to_thread(world.producer.register, "PBX-NOTIFY")
        # far sooner than the next poll: only a NOTIFY can have woken it
        await eventually(lambda: len(got) == 1, timeout=10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Counter(Aggregate):
    """Several messages change one counter: a batch must not decide twice on one version."""

    @event("Started")
    def __init__(self, key: str) -> None:
        self.key = key
        self.count = 0

    @event("Counted")
    def count_one(self) -> None:
        self.count += 1


class CounterApp(ServiceApplication):
    commits = 0

    def decide(self, event: IntegrationEvent, message: Message) -> list[Counter]:
        assert isinstance(event, AccountRegistered)
        key = str(int(event.login_id.removeprefix("PBX")) % 3)  # three counters
        counter_id = uuid5(NAMESPACE_URL, f"counter/{key}")
        try:
            counter: Counter = self.repository.get(counter_id)
        except AggregateNotFoundError:
            counter = Counter._create(Counter.Started, id=counter_id, key=key)  # type: ignore[attr-defined]
        counter.count_one()
        return [counter]

    def save_tracked_many(self, trackings: Sequence[Any], events: Sequence[Any]) -> None:
        type(self).commits += 1
        super().save_tracked_many(trackings, events)

    def count_of(self, n: int) -> int:
        counter: Counter = self.repository.get(uuid5(NAMESPACE_URL, f"counter/{n}"))
        return counter.count


async def test_messages_for_one_aggregate_in_a_batch_are_each_decided_on_the_latest_version(
    world: World, stack: Stack
) -> None:
    if stack.kind == "memory":
        app = CounterApp()
    else:
        assert stack.database_url
        ensure_schema(stack.database_url, "counters")
        app = CounterApp(postgres_env(stack.database_url, "counters"))
    try:
        messages = signup_messages(world, [f"PBX{i:02d}" for i in range(12)])
        inbox = Inbox(app, "counters.accounts")
        CounterApp.commits = 0
        assert inbox.handle_many([(m, app.decide) for m in messages]) == [True] * 12
        expected = [4, 4, 4]
        assert [app.count_of(n) for n in range(3)] == expected
        assert 0 < CounterApp.commits < 12  # grouped, not one transaction per message
        assert inbox.handle_many([(m, app.decide) for m in messages]) == [False] * 12
        assert [app.count_of(n) for n in range(3)] == expected
    finally:
        app.close()
