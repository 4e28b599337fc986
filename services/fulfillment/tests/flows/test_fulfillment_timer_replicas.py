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
from pbx_kit.testing import Stack, infrastructure_for

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
PRODUCT = str(uuid.uuid5(uuid.NAMESPACE_URL, "GS-GXP1625"))
ADDRESS = {
    "name": "山田 太郎",
    "name_kana": "ヤマダ\u3000タロウ",
    "postal_code": "1350064",
    "prefecture_code": "13",
    "city": "江東区",
    "city_kana": "コウトウク",
    "street": "青海2-7-4",
    "street_kana": "アオミ2-7-4",
    "phone_e164": "+81312345678",
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def a_checkout(account: uuid.UUID) -> dict[str, Any]:
    line = {
        "line_no": 1,
        "product_id": PRODUCT,
        "product_version": 1,
        "sku": "GS-GXP1625",
        "name": "Grandstream GXP1625",
        "billing_kind": "one_time",
        "unit_price": 11300,
        "prorated_unit_price": None,
        "quantity": 1,
        "amount": 11300,
        "tax_category": "standard_10",
        "circle_id": None,
        "unique_id": None,
        "service_id": None,
    }
    return {
        "checkout_id": str(uuid.uuid4()),
        "account_id": str(account),
        "lines": [line],
        "shipping_address": ADDRESS,
        "totals": {"subtotal": 11300, "taxes": [], "tax": 1130, "total": 12430},
        "requested_at": START.isoformat(),
    }


@pytest.mark.parametrize("stack_kind", ["real"], indirect=True)
def test_the_timers_survive_a_restart_and_fire_once_with_two_replicas(stack: Stack) -> None:
    env = infrastructure_for(stack).eventsourcing_env("fulfillment")
    clock = Clock()
    first = FulfillmentService(env, clock=clock)
    first.copy_product({"product_id": PRODUCT, "version": 1, "purchasable": True})
    account = uuid.uuid4()
    request = a_checkout(account)
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
