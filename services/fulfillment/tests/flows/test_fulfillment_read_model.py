"""The order read model on both stores (memory, PostgreSQL): one row per Order (the other
aggregates of the store are not rows), a batch applied twice changes nothing, a rebuild
from zero gives the rows the live projection made, the lists' order and pages, and a
restarted service resuming from the stored position."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from pbx_events.fulfillment import WAREHOUSE_QUEUE
from pbx_fulfillment.api import order_out
from pbx_fulfillment.application import REFUND_TIMEOUT, FulfillmentService
from pbx_fulfillment.consumers import ROUTES
from pbx_fulfillment.domain.order import ShipmentCancelledError
from pbx_fulfillment.domain.plan import shipment_id_of
from pbx_fulfillment.main import build
from pbx_fulfillment.projections import OrderProjection, OrderRow, order_row
from pbx_fulfillment.read_model import MemoryOrderStore, OrderStore, PostgresOrderStore
from pbx_fulfillment.testing import ADDRESS, a_line, a_request, product_id_of
from pbx_kit.db import create_pool
from pbx_kit.host import running
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
FAR = START + timedelta(days=365)
PRODUCT = product_id_of("GS-GXP1625")
TOTAL = 12430


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Shop:
    """Orders made on the application directly (as the consumers make them); each step
    moves the clock a second on, so the deadlines differ."""

    def __init__(self, app: FulfillmentService, clock: Clock) -> None:
        self.app = app
        self.clock = clock
        app.copy_product({"product_id": PRODUCT, "version": 1, "purchasable": True})

    def awaiting(self, account: UUID) -> UUID:
        request = a_request(
            [a_line(1, "one_time", "GS-GXP1625", price=11300)],
            ADDRESS,
            self.clock.now,
            account_id=account,
        )
        order_id = UUID(request["checkout_id"])
        self.app.checkout_requested(order_id, account, request)
        self.clock.now += timedelta(seconds=1)
        return order_id

    def placed(self, account: UUID) -> UUID:
        order_id = self.awaiting(account)
        self.app.wallet_debited(order_id, TOTAL)
        return order_id

    def story(self, alice: UUID, bob: UUID) -> dict[str, UUID]:
        """Orders in every state: placed, delivered, cancelled by the customer (and
        dispatched anyway: an incident), awaiting payment, timed out and debited late
        (refunded), rejected."""
        app = self.app
        orders = {"placed": self.placed(alice)}
        orders["delivered"] = self.placed(alice)
        app.dispatch(shipment_id_of(orders["delivered"]), "yamato", "1234-5678")
        app.deliver(shipment_id_of(orders["delivered"]))
        orders["cancelled"] = self.placed(alice)
        app.cancel_order(orders["cancelled"], alice)
        with pytest.raises(ShipmentCancelledError):
            app.dispatch(shipment_id_of(orders["cancelled"]), "sagawa", "9999-0000")
        orders["timed_out"] = self.awaiting(bob)
        orders["awaiting"] = self.awaiting(alice)
        deadline = app.get_order(orders["timed_out"]).deadline
        assert deadline is not None
        self.clock.now = deadline
        assert app.time_out(orders["timed_out"])
        app.wallet_debited(orders["timed_out"], TOTAL)  # late: refunded
        orders["rejected"] = self.awaiting(bob)
        app.wallet_debit_rejected(orders["rejected"])
        return orders


@pytest.fixture
async def fulfillment(
    stack: Stack,
) -> AsyncIterator[tuple[FulfillmentService, OrderStore, Shop]]:
    env = infrastructure_for(stack).eventsourcing_env("fulfillment")
    clock = Clock()
    app = await asyncio.to_thread(lambda: FulfillmentService(env, clock=clock))
    shop = await asyncio.to_thread(Shop, app, clock)
    if stack.database_url is None:
        yield app, MemoryOrderStore(), shop
        return
    pool = await create_pool(stack.database_url, "fulfillment")
    store = PostgresOrderStore(pool)
    await store.setup()
    try:
        yield app, store, shop
    finally:
        await pool.close()
        await asyncio.to_thread(app.close)


async def row_count(store: OrderStore) -> int:
    if isinstance(store, MemoryOrderStore):
        return len(store._rows)
    assert isinstance(store, PostgresOrderStore)
    return int(await store.pool.fetchval(f'SELECT count(*) FROM "{store.s}".rm_orders'))


async def everything(store: OrderStore, accounts: list[UUID]) -> dict[str, Any]:
    """Every answer the store gives."""
    return {
        "orders": [await store.orders(a) for a in accounts],
        "shipments": [
            await store.shipments(s)
            for s in (None, "requested", "dispatched", "delivered", "cancelled")
        ],
        "awaiting_payment": await store.awaiting_payment(FAR),
        "refunds_due": await store.refunds_due(FAR),
        "incidents": await store.incidents(),
        "incident_counts": await store.incident_counts(),
        "rows": await row_count(store),
    }


def newest_first(app: FulfillmentService, ids: list[UUID]) -> list[UUID]:
    orders = [app.get_order(i) for i in ids]
    return [o.id for o in sorted(orders, key=lambda o: (o.created_on, o.id), reverse=True)]


def oldest_first(app: FulfillmentService, ids: list[UUID]) -> list[UUID]:
    return list(reversed(newest_first(app, ids)))


async def test_one_row_per_order_with_what_the_lists_and_the_timers_ask(
    fulfillment: tuple[FulfillmentService, OrderStore, Shop],
) -> None:
    app, store, shop = fulfillment
    alice, bob = uuid.uuid4(), uuid.uuid4()
    orders = await asyncio.to_thread(shop.story, alice, bob)
    projection = OrderProjection(app, store)
    await projection.start()
    assert await projection.drain() > 0
    assert await store.position() == await asyncio.to_thread(app.max_notification_id)

    # six orders; the product's and the account's copies, the shipment refs are not rows
    assert await row_count(store) == len(orders) == 6
    mine = [orders[k] for k in ("placed", "delivered", "cancelled", "awaiting")]
    listed = await store.orders(alice)
    assert [UUID(o["order_id"]) for o in listed] == await asyncio.to_thread(newest_first, app, mine)
    for payload in listed + await store.orders(bob):
        order = await asyncio.to_thread(app.get_order, UUID(payload["order_id"]))
        assert payload == order_out(app, order).model_dump(mode="json")
    assert {o["status"] for o in await store.orders(bob)} == {"cancelled", "rejected"}
    assert await store.orders(uuid.uuid4()) == []

    shipped = oldest_first(app, [orders[k] for k in ("placed", "delivered", "cancelled")])
    assert [UUID(s["order_id"]) for s in await store.shipments()] == shipped
    for status, key in (
        ("requested", "placed"),
        ("delivered", "delivered"),
        ("cancelled", "cancelled"),
    ):
        [shipment] = await store.shipments(status)
        assert (shipment["shipment_id"], shipment["status"]) == (
            str(shipment_id_of(orders[key])),
            status,
        )
    assert await store.shipments("dispatched") == []

    # the payment deadline: not yet, then past it (the timed-out order is no candidate)
    assert await store.awaiting_payment(START) == []
    assert await store.awaiting_payment(FAR) == [orders["awaiting"]]
    # the refunds pending, by due time: the customer's cancellation, then the late debit
    assert await store.refunds_due(START) == []
    assert await store.refunds_due(FAR) == [orders["cancelled"], orders["timed_out"]]
    [incident] = await store.incidents()
    assert incident["order_id"] == str(orders["cancelled"])
    assert incident["account_id"] == str(alice)
    assert (incident["kind"], incident["amount"]) == ("dispatched_after_cancel", TOTAL)
    assert await store.incident_counts() == {"dispatched_after_cancel": 1}

    # the refund overdue: an incident; the order is no longer a candidate
    shop.clock.now = FAR
    assert await asyncio.to_thread(app.refund_overdue, orders["timed_out"])
    assert await projection.drain() == 1
    assert await store.refunds_due(FAR) == [orders["cancelled"]]
    assert await store.incident_counts() == {"dispatched_after_cancel": 1, "refund_overdue": 1}
    kinds = [(i["order_id"], i["kind"]) for i in await store.incidents()]
    assert kinds == [
        (str(orders["cancelled"]), "dispatched_after_cancel"),
        (str(orders["timed_out"]), "refund_overdue"),
    ]


async def test_a_batch_applied_twice_changes_nothing(
    fulfillment: tuple[FulfillmentService, OrderStore, Shop],
) -> None:
    app, store, shop = fulfillment
    alice, bob = uuid.uuid4(), uuid.uuid4()
    orders = await asyncio.to_thread(shop.story, alice, bob)
    projection = OrderProjection(app, store)
    await projection.start()
    await projection.drain()
    head = await store.position()
    before = await everything(store, [alice, bob])

    order = await asyncio.to_thread(app.get_order, orders["awaiting"])
    row = await asyncio.to_thread(order_row, app, 1, order)
    stale = replace(row, status="completed", deadline=None, order={"stale": True})
    await store.apply([stale], 1)  # another process's old batch, late
    assert await everything(store, [alice, bob]) == before

    again = OrderProjection(app, store)  # not started: reads the whole log again
    assert again.load_position() == 0
    assert await again.drain() > 0
    assert await everything(store, [alice, bob]) == before
    assert await store.position() == head


async def test_a_rebuild_from_zero_gives_the_rows_the_live_projection_made(
    fulfillment: tuple[FulfillmentService, OrderStore, Shop],
) -> None:
    app, store, shop = fulfillment
    alice, bob = uuid.uuid4(), uuid.uuid4()
    projection = OrderProjection(app, store)
    await projection.start()
    first = await asyncio.to_thread(shop.placed, alice)
    assert await projection.drain() > 0  # live, batch by batch as the story goes
    await asyncio.to_thread(shop.story, alice, bob)
    await asyncio.to_thread(app.cancel_order, first, alice)
    await projection.drain()
    live = await everything(store, [alice, bob])
    head = await store.position()
    assert live["rows"] == 7

    async def nothing() -> AsyncIterator[tuple[list[OrderRow], int]]:
        for _ in ():
            yield [], 0

    assert await store.rebuild(nothing()) == 0  # emptied
    assert await row_count(store) == 0
    assert await store.orders(alice) == []
    assert await projection.rebuild() == head
    assert await everything(store, [alice, bob]) == live
    assert await store.position() == head
    assert projection.load_position() == head


async def test_the_lists_are_in_their_order_in_pages(
    fulfillment: tuple[FulfillmentService, OrderStore, Shop],
) -> None:
    app, store, shop = fulfillment
    alice, bob = uuid.uuid4(), uuid.uuid4()

    def make() -> tuple[list[UUID], list[UUID], list[UUID]]:
        mine: list[UUID] = []
        theirs: list[UUID] = []
        for i in range(9):
            (mine if i % 3 else theirs).append(shop.placed(alice if i % 3 else bob))
        waiting = [shop.awaiting(bob) for _ in range(3)]
        return mine, theirs, waiting

    mine, theirs, waiting = await asyncio.to_thread(make)
    projection = OrderProjection(app, store)
    await projection.start()
    await projection.drain()

    expected = await asyncio.to_thread(newest_first, app, mine)
    pages = [await store.orders(alice, 4, offset) for offset in range(0, 12, 4)]
    assert [len(p) for p in pages] == [4, 2, 0]
    assert [UUID(o["order_id"]) for page in pages for o in page] == expected
    assert [UUID(o["order_id"]) for o in await store.orders(alice, 2, 3)] == expected[3:5]
    bobs = {UUID(o["order_id"]) for o in await store.orders(bob)}
    assert bobs == set(theirs + waiting)
    assert not bobs & set(mine)

    # the warehouse's list: oldest first, whoever ordered; some dispatched meanwhile
    shipped = await asyncio.to_thread(oldest_first, app, mine + theirs)
    for order_id in shipped[1::2]:
        await asyncio.to_thread(app.dispatch, shipment_id_of(order_id), "seino", "5555-0000")
    await projection.drain()
    pages = [await store.shipments("requested", 2, offset) for offset in range(0, 6, 2)]
    assert [UUID(s["order_id"]) for page in pages for s in page] == shipped[0::2]
    dispatched = await store.shipments("dispatched", 10, 1)
    assert [UUID(s["order_id"]) for s in dispatched] == shipped[1::2][1:]
    assert {s["carrier"] for s in dispatched} == {"seino"}
    everyone = [UUID(s["order_id"]) for s in await store.shipments(None, 100, 0)]
    assert everyone == shipped

    # the timers' candidates: by deadline, only those past it
    assert await store.awaiting_payment(FAR) == waiting
    second = (await asyncio.to_thread(app.get_order, waiting[1])).deadline
    assert second is not None
    assert await store.awaiting_payment(second) == waiting[:2]
    cancellable = [o for o in shipped[0::2] if o in mine]
    assert len(cancellable) == 3
    for order_id in reversed(cancellable):  # cancelled latest first: due in that order
        await asyncio.to_thread(app.cancel_order, order_id, alice)
        shop.clock.now += timedelta(seconds=1)
    await projection.drain()
    assert await store.refunds_due(FAR) == list(reversed(cancellable))
    first_due = shop.clock.now + REFUND_TIMEOUT - timedelta(seconds=3)
    assert await store.refunds_due(first_due) == [cancellable[-1]]


# the in-memory stack keeps nothing across a restart: real servers only
@pytest.mark.parametrize("stack_kind", ["real"])
async def test_a_restarted_service_starts_from_the_stored_position(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = uuid.uuid4()
    infra = infrastructure_for(stack)
    first = build(infra)
    try:
        async with running(infra, [first]):
            app = first.api.state.application
            shop = await asyncio.to_thread(Shop, app, Clock())
            await asyncio.to_thread(lambda: [shop.placed(alice) for _ in range(3)])
            await first.api.state.order_projection.drain()
            head = await asyncio.to_thread(app.max_notification_id)
            listed = await first.api.state.order_store.orders(alice)
        assert len(listed) == 3

        seen: list[int] = []
        prepare = OrderProjection.prepare

        def counting(self: OrderProjection, batch: Any) -> list[OrderRow]:
            seen.extend(position for position, _ in batch)
            return prepare(self, batch)

        monkeypatch.setattr(OrderProjection, "prepare", counting)
        infra = infrastructure_for(stack)  # a new process: its own bus connection
        again = build(infra)
        async with running(infra, [again]):
            assert again.api.state.order_projection.load_position() == head
            assert await again.api.state.order_store.orders(alice) == listed
        assert seen == []  # nothing of the old log was read again
    finally:
        prefix = stack.settings.queue_prefix
        queues = [prefix + WAREHOUSE_QUEUE, sessions_queue("fulfillment", prefix)]
        queues += [prefix + queue for queue in ROUTES]
        await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, tuple(queues))
