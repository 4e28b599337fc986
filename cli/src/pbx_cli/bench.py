"""``./pbx bench relay|inbox|wallet``: throughput beside the raw ceiling measured in the same run.

- relay: events/s from a service's notification log to RabbitMQ with publisher
  confirms, beside raw aio-pika confirmed publishes with the same number in flight.
- inbox: messages/s consumed from RabbitMQ into PostgreSQL through the inbox
  (new event + tracking record in one transaction each), beside raw single-row
  INSERT commits on one connection.
- wallet: debits/s — ``DebitRequested`` messages from RabbitMQ through the
  wallet's inbox (load the wallet, decide, save the debit with the message's
  tracking row), for orders spread over many funded wallets, beside the same
  raw single-row commits.

Servers: ``PBX_DATABASE_URL`` / ``PBX_AMQP_URL`` (or the ``PBX_TEST_*`` ones);
everything it creates (schema, exchange, queues) is removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg
import psycopg
from eventsourcing.domain import Aggregate, event
from psycopg import sql

from pbx_events.amqp import AmqpBus
from pbx_events.bus import BusSettings, Delivery
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, to_message
from pbx_events.identity import AccountRegistered
from pbx_events.inbox import Inbox
from pbx_events.relay import FollowerSettings, OutboxRelay
from pbx_events.store import ServiceApplication, ensure_schema, postgres_env


class BenchItem(Aggregate):
    @event("Happened")
    def __init__(self, login_id: str) -> None:
        self.login_id = login_id


class BenchApp(ServiceApplication):
    name = "bench"


def _mapping(domain_event: Any) -> Sequence[IntegrationEvent]:
    return [_event(domain_event.originator_id, domain_event.login_id)]


def _event(account_id: uuid.UUID, login_id: str) -> AccountRegistered:
    return AccountRegistered(
        account_id=account_id,
        login_id=login_id,
        contractor_type="individual",
        email_domain_class="business",
        screening_phone_is_fixed_line=True,
        registered_at=datetime.now(UTC),
    )


def _urls() -> tuple[str, str]:
    db = os.environ.get("PBX_DATABASE_URL") or os.environ.get("PBX_TEST_DATABASE_URL")
    amqp = os.environ.get("PBX_AMQP_URL") or os.environ.get("PBX_TEST_AMQP_URL")
    if not db or not amqp or not amqp.startswith("amqp"):
        raise SystemExit(
            "bench needs real servers: set PBX_DATABASE_URL=postgresql://… and PBX_AMQP_URL=amqp://…"
        )
    return db, amqp


def _drop_schema(db: str, schema: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(sql.Identifier(schema)))


def _report(what: str, ours: float, raw: float, raw_label: str) -> None:
    print(f"{what}: {ours:,.0f} events/s")
    print(f"raw ceiling ({raw_label}): {raw:,.0f} /s")
    print(f"ratio: {ours / raw:.0%}")


async def _raw_confirmed_publishes(amqp: str, exchange: str, count: int, in_flight: int) -> float:
    connection = await aio_pika.connect(amqp)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(
            f"{exchange}.raw", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(ex, "#")
        # the same messages the relay sends: body, properties and headers
        sample = to_message(
            _event(uuid.uuid4(), "PBX00000000"),
            message_id="",
            producer_position=1,
            correlation_id=str(uuid.uuid4()),
            causation_id=str(uuid.uuid4()),
        )
        started = time.perf_counter()
        for offset in range(0, count, in_flight):
            await asyncio.gather(
                *[
                    ex.publish(
                        aio_pika.Message(
                            sample.body,
                            headers=sample.headers,
                            content_type=sample.content_type,
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=str(uuid.uuid4()),
                            timestamp=sample.timestamp,
                            type=sample.type,
                            app_id=sample.app_id,
                        ),
                        routing_key=sample.routing_key,
                        mandatory=True,
                    )
                    for _ in range(min(in_flight, count - offset))
                ]
            )
        elapsed = time.perf_counter() - started
        await queue.delete(if_unused=False, if_empty=False)
        await ex.delete()
    return count / elapsed


ROUNDS = 3


async def bench_relay(count: int) -> None:
    """Best of ``ROUNDS`` rounds each, relay and raw taking turns (the machine's noise)."""
    db, amqp = _urls()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    exchange = f"bench.{uuid.uuid4().hex[:8]}"
    settings = BusSettings(exchange=exchange, audit=False)
    batch = 500
    ensure_schema(db, schema)
    app = BenchApp(postgres_env(db, schema))
    bus = AmqpBus(amqp, settings)
    ours: list[float] = []
    raw: list[float] = []
    try:
        await bus.connect()
        await bus.declare_queue(f"{exchange}.sink", ["#"])
        relay = OutboxRelay(app, "identity", _mapping, bus, FollowerSettings(batch_size=batch))
        for round_no in range(ROUNDS):
            print(f"round {round_no + 1}: writing {count} events to the log ...")
            for offset in range(0, count, 100):
                items = [BenchItem(f"PBX{i:08d}") for i in range(offset, min(count, offset + 100))]
                app.save(*items)
            started = time.perf_counter()
            assert await relay.drain() == count
            ours.append(count / (time.perf_counter() - started))
            raw.append(await _raw_confirmed_publishes(amqp, f"{exchange}.raw", count, batch))
            print(f"  relay {ours[-1]:,.0f}/s, raw {raw[-1]:,.0f}/s")
        _report(
            f"relay (log -> RabbitMQ, confirmed), best of {ROUNDS}",
            max(ours),
            max(raw),
            f"aio-pika, same messages, {batch} in flight",
        )
    finally:
        async with await aio_pika.connect(amqp) as conn:
            channel = await conn.channel()
            await channel.queue_delete(f"{exchange}.sink")
            await channel.queue_delete(f"{exchange}.sink.dlq")
            await channel.exchange_delete(exchange)
        await bus.close()
        app.close()
        _drop_schema(db, schema)


async def _raw_single_row_commits(db: str, schema: str, count: int) -> float:
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".raw (id bigserial PRIMARY KEY, body bytea)'
        )
        body = b"x" * 200
        started = time.perf_counter()
        for _ in range(count):
            await conn.execute(f'INSERT INTO "{schema}".raw (body) VALUES ($1)', body)
        return count / (time.perf_counter() - started)
    finally:
        await conn.close()


class Tally(Aggregate):
    @event("Counted")
    def __init__(self, login_id: str) -> None:
        self.login_id = login_id


def _tally(evt: Any, message: Message) -> list[Tally]:
    return [Tally(evt.login_id)]


async def _consume_all(
    bus: AmqpBus, queue: str, inbox: Inbox, count: int, decide: Any = _tally
) -> float:
    """Messages/s from the queue through the inbox until ``count`` were handled."""
    done = asyncio.Event()
    handled = 0
    handler = inbox.handler(decide)

    async def on_delivery(delivery: Delivery) -> None:
        nonlocal handled
        await handler(delivery)
        handled += 1
        if handled >= count:
            done.set()

    started = time.perf_counter()
    sub = await bus.subscribe(queue, ["#"], on_delivery)
    await asyncio.wait_for(done.wait(), timeout=600)
    rate = count / (time.perf_counter() - started)
    await sub.cancel()
    return rate


async def _inbox_rounds(
    what: str,
    count: int,
    make_app: Any,
    event_for: Any,
    *,
    decide_for: Any = None,
    check: Any = None,
) -> None:
    """Best of ``ROUNDS`` rounds each, the inbox and raw commits taking turns (the disk's
    noise): ``count`` messages queued, then consumed through the inbox."""
    db, amqp = _urls()
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    exchange = f"bench.{uuid.uuid4().hex[:8]}"
    queue = f"{exchange}.inbox"
    ensure_schema(db, schema)
    app = await asyncio.to_thread(make_app, db, schema)
    bus = AmqpBus(amqp, BusSettings(exchange=exchange, audit=False))
    try:
        await bus.connect()
        await bus.declare_queue(queue, ["#"])
        inbox = Inbox(app, queue)
        ours: list[float] = []
        raw: list[float] = []
        for round_no in range(ROUNDS):
            messages: list[Message] = [
                to_message(
                    event_for(app, i),
                    message_id=str(uuid.uuid4()),
                    producer_position=round_no * count + i + 1,
                    correlation_id=None,
                    causation_id=None,
                )
                for i in range(count)
            ]
            print(f"round {round_no + 1}: queueing {count} messages ...")
            for offset in range(0, count, 500):
                await bus.publish(messages[offset : offset + 500])
            decide = decide_for(app) if decide_for else _tally
            ours.append(await _consume_all(bus, queue, inbox, count, decide))
            raw.append(await _raw_single_row_commits(db, schema, count))
            print(f"  inbox {ours[-1]:,.0f}/s, raw {raw[-1]:,.0f}/s")
        _report(
            f"{what}, best of {ROUNDS}",
            max(ours),
            max(raw),
            "single-row INSERT commits, one connection",
        )
        if check is not None:
            await asyncio.to_thread(check, app)
    finally:
        async with await aio_pika.connect(amqp) as conn:
            channel = await conn.channel()
            await channel.queue_delete(queue)
            await channel.queue_delete(f"{queue}.dlq")
            await channel.exchange_delete(exchange)
        await bus.close()
        app.close()
        _drop_schema(db, schema)


async def bench_inbox(count: int) -> None:
    await _inbox_rounds(
        "inbox (RabbitMQ -> PostgreSQL, exactly once)",
        count,
        lambda db, schema: BenchApp(postgres_env(db, schema, pool_size=8)),
        lambda app, i: _event(uuid.uuid4(), f"PBX{i:08d}"),
    )


WALLETS = 2_000
#: yen per wallet before the rounds, and per debit
FUNDS, PRICE = 1_000_000, 100


async def bench_wallet(count: int) -> None:
    """Debits for orders spread at random over many funded wallets."""
    import random

    from pbx_events.fulfillment import DebitRequested
    from pbx_kit.service import decider
    from pbx_wallet.application import WalletService
    from pbx_wallet.consumers import ORDERS_QUEUE, ROUTES
    from pbx_wallet.domain.wallet import Wallet
    from pbx_wallet.payments import SandboxProvider

    accounts = [uuid.uuid4() for _ in range(WALLETS)]

    def funded(db: str, schema: str) -> WalletService:
        print(f"funding {WALLETS:,} wallets ...")
        app = WalletService(
            postgres_env(db, schema, pool_size=8), provider=SandboxProvider(b"bench-secret")
        )
        for account_id in accounts:  # one save per wallet
            wallet = Wallet.open(account_id)
            charge_id = uuid.uuid4()
            wallet.request_charge(charge_id, "bank_transfer", FUNDS, {}, None)
            wallet.confirm_charge(charge_id, FUNDS, f"bench-{charge_id}")
            app.save(wallet)
        return app

    def debit(app: WalletService, i: int) -> DebitRequested:
        return DebitRequested(
            account_id=random.choice(accounts),
            order_id=uuid.uuid4(),
            amount=PRICE,
            requested_at=datetime.now(UTC),
        )

    def every_debit_once(app: WalletService) -> None:
        spent = sum(FUNDS - (w.balance if (w := app.find_wallet(a)) else 0) for a in accounts)
        assert spent == PRICE * count * ROUNDS, f"spent {spent}: a debit was lost or doubled"
        print(f"checked: {count * ROUNDS:,} debits took effect exactly once")

    await _inbox_rounds(
        f"wallet debits (RabbitMQ -> inbox -> PostgreSQL, exactly once, {WALLETS:,} wallets)",
        count,
        funded,
        debit,
        decide_for=lambda app: decider(app, ROUTES[ORDERS_QUEUE]),
        check=every_debit_once,
    )


def main(what: str, count: int) -> int:
    benches = {"relay": bench_relay, "inbox": bench_inbox, "wallet": bench_wallet}
    asyncio.run(benches[what](count))
    return 0
