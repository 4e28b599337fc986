"""The lists over HTTP on both stacks, read from the order read model: a customer's orders
(newest first, in pages, never another customer's), the warehouse's shipments (oldest
first, by status), the operators' incidents, and the timers taking their candidates from
it (each decided on the order itself)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from pbx_events.fulfillment import WAREHOUSE_QUEUE
from pbx_fulfillment.application import PAYMENT_TIMEOUT, REFUND_TIMEOUT, FulfillmentService
from pbx_fulfillment.consumers import ROUTES
from pbx_fulfillment.domain.plan import shipment_id_of
from pbx_fulfillment.main import build
from pbx_fulfillment.projections import OrderProjection, OrderRow
from pbx_fulfillment.testing import ADDRESS, a_line, a_request, product_id_of
from pbx_kit.host import running
from pbx_kit.runtime import ServiceRuntime
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for
from pbx_kit.testing_tokens import TokenMinter

START = datetime.now(UTC).replace(microsecond=0)
FAR = START + timedelta(days=365)
PRODUCT = product_id_of("GS-GXP1625")
TOTAL = 12430


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Shop:
    def __init__(
        self, client: httpx.AsyncClient, infra: Any, runtime: ServiceRuntime, clock: Clock
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.clock = clock
        self.minter = TokenMinter(infra.key_ring())

    @property
    def app(self) -> FulfillmentService:
        app: FulfillmentService = self.runtime.api.state.application
        return app

    def auth(self, subject: UUID, role: str = "customer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.minter.issue(str(subject), [role])}"}

    async def get(self, path: str, headers: dict[str, str]) -> Any:
        reply = await self.client.get(path, headers=headers)
        assert reply.status_code == 200, f"{path}: {reply.text}"
        return reply.json()

    async def eventually(self, check: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Until ``check()`` (awaited) gives something true; returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await check()
            if value:
                return value
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)

    async def awaiting(self, account: UUID) -> UUID:
        """A checkout the saga sent to the wallet (as the consumer records it)."""
        request = a_request(
            [a_line(1, "one_time", "GS-GXP1625", price=11300)],
            ADDRESS,
            self.clock.now,
            account_id=account,
        )
        order_id = UUID(request["checkout_id"])
        await asyncio.to_thread(self.app.checkout_requested, order_id, account, request)
        self.clock.now += timedelta(seconds=1)
        return order_id

    async def placed(self, account: UUID) -> UUID:
        order_id = await self.awaiting(account)
        await asyncio.to_thread(self.app.wallet_debited, order_id, TOTAL)
        return order_id


@pytest.fixture
async def shop(stack: Stack) -> AsyncIterator[Shop]:
    infra = infrastructure_for(stack)
    clock = Clock()
    runtime = build(infra, clock=clock)
    try:
        async with running(infra, [runtime]):
            transport = httpx.ASGITransport(app=runtime.api)
            async with httpx.AsyncClient(transport=transport, base_url="http://fulfillment") as c:
                shop = Shop(c, infra, runtime, clock)
                await asyncio.to_thread(
                    shop.app.copy_product,
                    {"product_id": PRODUCT, "version": 1, "purchasable": True},
                )
                yield shop
    finally:
        if stack.kind == "real":
            prefix = stack.settings.queue_prefix
            queues = [prefix + WAREHOUSE_QUEUE, sessions_queue("fulfillment", prefix)]
            queues += [prefix + queue for queue in ROUTES]
            await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, tuple(queues))


def ids(listed: list[dict[str, Any]], key: str = "order_id") -> list[UUID]:
    return [UUID(item[key]) for item in listed]


async def test_a_customer_sees_their_orders_newest_first_in_pages_and_never_anothers(
    shop: Shop,
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    mine = [await shop.placed(alice) for _ in range(5)]
    theirs = [await shop.placed(bob), await shop.awaiting(bob)]

    async def all_five() -> list[dict[str, Any]] | None:
        listed: list[dict[str, Any]] = await shop.get("/orders?limit=100", shop.auth(alice))
        return listed if len(listed) == 5 else None

    listed = await shop.eventually(all_five)
    assert ids(listed) == list(reversed(mine))  # newest first
    pages = [
        await shop.get(f"/orders?limit=2&offset={offset}", shop.auth(alice))
        for offset in (0, 2, 4, 6)
    ]
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    assert [o for page in pages for o in page] == listed
    for order in listed:  # the list's entry is the order as the order's own page shows it
        assert order == await shop.get(f"/orders/{order['order_id']}", shop.auth(alice))
    assert {o["status"] for o in listed} == {"placed"}
    assert {o["shipment"]["status"] for o in listed} == {"requested"}

    bobs = await shop.get("/orders", shop.auth(bob))
    assert ids(bobs) == list(reversed(theirs))
    assert [o["status"] for o in bobs] == ["awaiting_payment", "placed"]
    assert await shop.get("/orders", shop.auth(uuid.uuid4())) == []

    # a new order: first in the list once the projection has it; a cancellation shows too
    newest = await shop.placed(alice)

    async def first_is_newest() -> bool:
        head = await shop.get("/orders?limit=1", shop.auth(alice))
        return ids(head) == [newest]

    await shop.eventually(first_is_newest)
    cancelled = await shop.client.post(f"/orders/{mine[0]}/cancel", headers=shop.auth(alice))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"  # the order itself: at once

    async def listed_as_cancelled() -> bool:
        listed = await shop.get("/orders?limit=100", shop.auth(alice))
        return [o["status"] for o in listed] == ["placed"] * 5 + ["cancelled"]

    await shop.eventually(listed_as_cancelled)
    assert ids(await shop.get("/orders?limit=100", shop.auth(bob))) == list(reversed(theirs))


async def test_the_warehouse_list_the_incidents_and_the_timers_read_the_read_model(
    shop: Shop,
) -> None:
    alice = uuid.uuid4()
    warehouse = shop.auth(uuid.uuid4(), "warehouse")
    operator = shop.auth(uuid.uuid4(), "admin")
    first, second, third = [await shop.placed(alice) for _ in range(3)]
    waiting = await shop.awaiting(alice)
    shipments = [shipment_id_of(o) for o in (first, second, third)]

    async def requested() -> list[dict[str, Any]] | None:
        listed: list[dict[str, Any]] = await shop.get("/shipments?status=requested", warehouse)
        return listed if len(listed) == 3 else None

    listed = await shop.eventually(requested)
    assert ids(listed, "shipment_id") == shipments  # oldest first
    assert ids(listed) == [first, second, third]
    page = await shop.get("/shipments?status=requested&limit=2&offset=1", warehouse)
    assert ids(page, "shipment_id") == shipments[1:]

    # the warehouse reports, the customer cancels: the lists follow (read your writes)
    body = {"carrier": "yamato", "tracking_number": "1234-5678-9012"}
    reply = await shop.client.post(
        f"/shipments/{shipments[1]}/dispatch", json=body, headers=warehouse
    )
    assert reply.status_code == 200, reply.text
    reply = await shop.client.post(f"/orders/{third}/cancel", headers=shop.auth(alice))
    assert reply.status_code == 200, reply.text
    by_status = {
        status: ids(await shop.get(f"/shipments?status={status}", warehouse), "shipment_id")
        for status in ("requested", "dispatched", "delivered", "cancelled")
    }
    assert by_status == {
        "requested": shipments[:1],
        "dispatched": shipments[1:2],
        "delivered": [],
        "cancelled": shipments[2:],
    }
    [dispatched] = await shop.get("/shipments?status=dispatched", warehouse)
    assert (dispatched["carrier"], dispatched["tracking_number"]) == ("yamato", "1234-5678-9012")
    assert ids(await shop.get("/shipments", warehouse), "shipment_id") == shipments

    # dispatched after all: an incident for the operators
    counted = await metric(
        shop, "pbx_fulfillment_incidents_recorded_total", "dispatched_after_cancel"
    )
    reply = await shop.client.post(
        f"/shipments/{shipments[2]}/dispatch", json=body, headers=warehouse
    )
    assert reply.status_code == 409, reply.text
    [incident] = await shop.get("/incidents", operator)
    assert (incident["order_id"], incident["account_id"]) == (str(third), str(alice))
    assert (incident["kind"], incident["amount"]) == ("dispatched_after_cancel", TOTAL)
    after = await metric(
        shop, "pbx_fulfillment_incidents_recorded_total", "dispatched_after_cancel"
    )
    assert after == counted + 1

    # the payment deadline passes: the timer times the waiting order out (the candidate
    # from the read model, decided on the order)
    run_timers = shop.runtime.api.state.run_timers
    store = shop.runtime.api.state.order_store
    await shop.eventually(lambda: store.awaiting_payment(FAR))
    shop.clock.now += PAYMENT_TIMEOUT + timedelta(seconds=1)
    assert sum(await run_timers()) <= 1  # the service's own round may have been first
    order = await shop.get(f"/orders/{waiting}", shop.auth(alice))
    assert (order["status"], order["reason"]) == ("cancelled", "timeout")

    async def no_more_candidates() -> bool:
        return bool(await store.awaiting_payment(FAR) == [])

    await shop.eventually(no_more_candidates)

    # the refund of the cancelled order is never confirmed: one incident, once
    shop.clock.now += REFUND_TIMEOUT
    await run_timers()
    await run_timers()
    kinds = [(i["order_id"], i["kind"]) for i in await shop.get("/incidents", operator)]
    assert kinds == [(str(third), "dispatched_after_cancel"), (str(third), "refund_overdue")]

    async def gauge() -> bool:
        ready = await shop.client.get("/readyz")
        value = ready.json()["checks"]["incidents"]["value"]
        return bool(value == {"dispatched_after_cancel": 1, "refund_overdue": 1})

    await shop.eventually(gauge)
    assert await metric(shop, "pbx_fulfillment_incidents", "refund_overdue") == 1
    stored = await asyncio.to_thread(lambda: list(shop.app.repository.event_store.get(third)))
    events = [type(e).__name__ for e in stored]
    assert events.count("Incident") == 2


async def metric(shop: Shop, name: str, kind: str) -> float:
    """A sample of ``/metrics`` (0 when absent)."""
    text = (await shop.client.get("/metrics")).text
    prefix = f'{name}{{kind="{kind}"}} '
    values = [float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]
    return values[0] if values else 0.0


async def test_a_list_is_served_as_the_store_has_it_when_catching_up_fails(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = uuid.uuid4()
    first = await shop.placed(alice)
    assert ids(await shop.get("/orders", shop.auth(alice))) == [first]

    def broken(self: OrderProjection, batch: Any) -> list[OrderRow]:
        raise RuntimeError("the projection cannot read the batch")

    monkeypatch.setattr(OrderProjection, "prepare", broken)
    await shop.placed(alice)
    # the reader is not failed for it: the list as far as the store got
    assert ids(await shop.get("/orders", shop.auth(alice))) == [first]
    monkeypatch.undo()

    async def both() -> bool:
        return len(await shop.get("/orders", shop.auth(alice))) == 2

    await shop.eventually(both)
