"""The durable timers survive a restart and fire once with several replicas: the payment
deadline and the refund deadline are stored on the order (events), not held in a sleeping
task, so a new process finds them; two replicas on the same PostgreSQL racing the same
deadline record one TimedOut and one incident (optimistic concurrency on the order).

Real PostgreSQL only: replicas share a database (the in-memory store is one process's)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pbx_fulfillment.application import PAYMENT_TIMEOUT, REFUND_TIMEOUT, FulfillmentService
from pbx_fulfillment.testing import ADDRESS, a_line, a_request, product_id_of
from pbx_kit.testing import Stack, infrastructure_for

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
PRODUCT = product_id_of("GS-GXP1625")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("stack_kind", ["real"], indirect=True)
def test_the_timers_survive_a_restart_and_fire_once_with_two_replicas(stack: Stack) -> None:
    env = infrastructure_for(stack).eventsourcing_env("fulfillment")
    clock = Clock()
    first = FulfillmentService(env, clock=clock)
    first.copy_product({"product_id": PRODUCT, "version": 1, "purchasable": True})
    account = uuid.uuid4()
    request = a_request(
        [a_line(1, "one_time", "GS-GXP1625", price=11300)], ADDRESS, START, account_id=account
    )
    order_id = uuid.UUID(request["checkout_id"])
    first.checkout_requested(order_id, account, request)
    assert first.get_order(order_id).status == "awaiting_payment"
    first.close()  # the process that asked the wallet is gone

    # later, two new replicas; the deadline passed while none was running
    clock.now = START + PAYMENT_TIMEOUT + timedelta(seconds=1)
    replicas = [FulfillmentService(env, clock=clock) for _ in range(2)]
    try:
        fired = race(replicas, lambda app: [app.time_out(i) for i in app.awaiting_payment()])
        assert sorted(map(sum, fired)) == [0, 1]  # one replica fired, the other found it done
        events = [type(e).__name__ for e in replicas[0].repository.event_store.get(order_id)]
        assert events == ["Requested", "DebitRequested", "TimedOut"]
        assert replicas[1].awaiting_payment() == []

        # the wallet's debit arrives late, at both replicas (a redelivery): refunded once
        race(replicas, lambda app: app.wallet_debited(order_id, 12430))
        order = replicas[1].get_order(order_id)
        assert (order.status, order.refunded, order.refund_pending) == ("cancelled", 12430, True)

        # the wallet never confirms: past the refund deadline, one incident
        clock.now += REFUND_TIMEOUT + timedelta(seconds=1)
        fired = race(replicas, lambda app: [app.refund_overdue(i) for i in app.refunds_pending()])
        assert sorted(map(sum, fired)) == [0, 1]
        events = [type(e).__name__ for e in replicas[0].repository.event_store.get(order_id)]
        assert events == [
            "Requested",
            "DebitRequested",
            "TimedOut",
            "LateDebitRefunded",
            "Incident",
        ]
        [(_, incident)] = replicas[0].incidents()
        assert (incident["kind"], incident["amount"]) == ("refund_overdue", 12430)
    finally:
        for app in replicas:
            app.close()


def race(apps: list[FulfillmentService], job: Callable[[FulfillmentService], Any]) -> list[Any]:
    """``job`` on every replica at once (threads released together)."""
    start = threading.Barrier(len(apps))

    def run(app: FulfillmentService) -> Any:
        start.wait()
        return job(app)

    with ThreadPoolExecutor(len(apps)) as pool:
        return list(pool.map(run, apps))
