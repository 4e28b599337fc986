"""The durable timers survive a restart and fire once with several replicas: the payment
deadline and the refund deadline are stored on the order (events), not held in a sleeping
task, so a new process finds them (through the order read model, which it catches up at
start); two replicas on the same PostgreSQL racing the same deadline record one TimedOut
and one incident (optimistic concurrency on the order).

Two fulfillment runtimes as two replicas would run them: the same database and read-model
table, competing on the same queues, each with its own timer. Real PostgreSQL and
RabbitMQ only (the in-memory store is one process's)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from pbx_events.fulfillment import WAREHOUSE_QUEUE
from pbx_fulfillment.application import PAYMENT_TIMEOUT, REFUND_TIMEOUT, FulfillmentService
from pbx_fulfillment.consumers import ROUTES
from pbx_fulfillment.main import build
from pbx_fulfillment.testing import ADDRESS, a_line, a_request, product_id_of
from pbx_kit.host import running
from pbx_kit.runtime import ServiceRuntime
from pbx_kit.sessions import sessions_queue
from pbx_kit.testing import Stack, delete_exchange, infrastructure_for

START = datetime.now(UTC).replace(microsecond=0)
PRODUCT = product_id_of("GS-GXP1625")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def app_of(runtime: ServiceRuntime) -> FulfillmentService:
    app: FulfillmentService = runtime.api.state.application
    return app


async def both(replicas: list[ServiceRuntime], job: Callable[[ServiceRuntime], Any]) -> list[Any]:
    """``job`` on every replica at once."""
    return list(await asyncio.gather(*(job(replica) for replica in replicas)))


def names(app: FulfillmentService, order_id: uuid.UUID) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(order_id)]


@pytest.mark.parametrize("stack_kind", ["real"], indirect=True)
async def test_the_timers_survive_a_restart_and_fire_once_with_two_replicas(
    stack: Stack,
) -> None:
    infra = infrastructure_for(stack)
    clock = Clock()
    try:
        # the process that asks the wallet, and is gone before it answers
        first = build(infra, clock=clock)
        async with running(infra, [first]):
            app = app_of(first)
            await anyio.to_thread.run_sync(
                app.copy_product, {"product_id": PRODUCT, "version": 1, "purchasable": True}
            )
            account = uuid.uuid4()
            request = a_request(
                [a_line(1, "one_time", "GS-GXP1625", price=11300)],
                ADDRESS,
                START,
                account_id=account,
            )
            order_id = uuid.UUID(request["checkout_id"])
            await anyio.to_thread.run_sync(app.checkout_requested, order_id, account, request)
            assert app.get_order(order_id).status == "awaiting_payment"

        # later, two new replicas; the deadline passed while none was running
        clock.now = START + PAYMENT_TIMEOUT + timedelta(seconds=1)
        infra = infrastructure_for(stack)
        replicas = [build(infra, clock=clock), build(infra, clock=clock)]
        async with running(infra, replicas):
            fired = await both(replicas, lambda r: r.api.state.run_timers())
            # one round fired (here, or the service's own round that came first)
            assert sum(map(sum, fired)) <= 1
            app = app_of(replicas[0])
            assert names(app, order_id) == ["Requested", "DebitRequested", "TimedOut"]
            assert sum(map(sum, await both(replicas, lambda r: r.api.state.run_timers()))) == 0

            # the wallet's debit arrives late, at both replicas (a redelivery): refunded once
            await both(
                replicas,
                lambda r: anyio.to_thread.run_sync(app_of(r).wallet_debited, order_id, 12430),
            )
            order = app_of(replicas[1]).get_order(order_id)
            assert (order.status, order.refunded, order.refund_pending) == (
                "cancelled",
                12430,
                True,
            )

            # the wallet never confirms: past the refund deadline, one incident
            clock.now += REFUND_TIMEOUT + timedelta(seconds=1)

            async def caught_up(replica: ServiceRuntime) -> None:
                await replica.api.state.order_projection.drain()

            await both(replicas, caught_up)
            await both(replicas, lambda r: r.api.state.run_timers())
            await both(replicas, lambda r: r.api.state.run_timers())
            assert names(app, order_id) == [
                "Requested",
                "DebitRequested",
                "TimedOut",
                "LateDebitRefunded",
                "Incident",
            ]
            await both(replicas, caught_up)
            incidents = await replicas[1].api.state.order_store.incidents()
            assert [(i["order_id"], i["kind"], i["amount"]) for i in incidents] == [
                (str(order_id), "refund_overdue", 12430)
            ]
    finally:
        prefix = stack.settings.queue_prefix
        queues = [prefix + q for q in (*ROUTES, WAREHOUSE_QUEUE)]
        queues.append(sessions_queue("fulfillment", prefix))
        await delete_exchange(stack.settings.amqp_url, stack.settings.exchange, tuple(queues))
