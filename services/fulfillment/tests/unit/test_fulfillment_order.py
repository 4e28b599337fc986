"""The Order as the checkout saga's state machine: for each path, the exact events; then
any interleaving, duplication and reordering of the answers it consumes ends the same,
with at most one debit kept per order and every debit of an ended order refunded once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_fulfillment.domain.checks import AccountFacts, ProductFacts, Refusal, check_checkout
from pbx_fulfillment.domain.order import AlreadyDispatchedError, NotCancellableError, Order
from pbx_fulfillment.domain.plan import Plan

NOW = datetime(2024, 9, 8, 1, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(minutes=5)
DUE = NOW + timedelta(minutes=15)
PHONE_ID = str(uuid.uuid4())
UNIQUE_ID = str(uuid.uuid4())
CIRCLE = str(uuid.uuid4())


def line(kind: str, product_id: str = PHONE_ID, version: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "product_version": version,
        "sku": f"SKU-{kind}",
        "billing_kind": kind,
        **extra,
    }


PLAN = Plan(
    items=[
        {
            "line_no": 1,
            "product_id": PHONE_ID,
            "sku": "SKU-one_time",
            "name": "電話機",
            "quantity": 1,
            "circle_id": None,
            "unique_id": None,
        }
    ]
)


def an_order(total: int = 27_500) -> Order:
    request = {"lines": [line("one_time")], "totals": {"total": total}}
    return Order(uuid.uuid4(), uuid.uuid4(), request)


def names(order: Order) -> list[str]:
    return [type(e).__name__ for e in order.collect_events()]


# -- each path, its exact events ---------------------------------------------------------


def test_placed() -> None:
    order = an_order()
    order.ask_for_payment(DEADLINE)
    order.debited(27_500, PLAN, DUE)
    assert (order.status, order.debited_amount, order.refunded) == ("placed", 27_500, 0)
    assert names(order) == ["Requested", "DebitRequested", "Placed"]


@pytest.mark.parametrize(
    "reason",
    ["mixed_billing", "kyc_required", "price_changed", "product_unavailable", "circle_unknown"],
)
def test_refused_by_the_checks_never_asks_for_money(reason: str) -> None:
    order = an_order()
    order.refuse(reason, "SKU-1")
    order.ask_for_payment(DEADLINE)  # too late: nothing
    assert (order.status, order.reason, order.detail) == ("rejected", reason, "SKU-1")
    assert names(order) == ["Requested", "Rejected"]


def test_insufficient_funds() -> None:
    order = an_order()
    order.ask_for_payment(DEADLINE)
    order.debit_refused()
    order.debit_refused()  # repeated
    assert (order.status, order.reason) == ("rejected", "insufficient_funds")
    assert names(order) == ["Requested", "DebitRequested", "Rejected"]


def test_timeout_without_a_late_debit() -> None:
    order = an_order()
    order.ask_for_payment(DEADLINE)
    assert not order.time_out(DEADLINE - timedelta(seconds=1))
    assert order.time_out(DEADLINE)
    assert not order.time_out(DEADLINE + timedelta(minutes=1))  # fires once
    assert (order.status, order.reason, order.refunded) == ("cancelled", "timeout", 0)
    assert names(order) == ["Requested", "DebitRequested", "TimedOut"]


def test_timeout_with_a_late_debit_refunds_it_once() -> None:
    order = an_order()
    order.ask_for_payment(DEADLINE)
    order.time_out(DEADLINE)
    order.debited(27_500, PLAN, DUE)
    order.debited(27_500, PLAN, DUE)  # redelivered
    assert (order.status, order.refunded) == ("cancelled", 27_500)
    assert names(order) == ["Requested", "DebitRequested", "TimedOut", "LateDebitRefunded"]


def test_cancellation_before_dispatch_refunds_everything() -> None:
    order = an_order()
    order.ask_for_payment(DEADLINE)
    order.debited(27_500, PLAN, DUE)
    order.cancel(DUE)
    assert (order.status, order.reason, order.refunded) == ("cancelled", "customer", 27_500)
    with pytest.raises(NotCancellableError):
        order.cancel(DUE)
    assert names(order) == ["Requested", "DebitRequested", "Placed", "CancelledByCustomer"]


def test_cancellation_after_dispatch_is_refused() -> None:
    order = an_order()
    order.ask_for_payment(DEADLINE)
    order.debited(27_500, PLAN, DUE)
    order.dispatch("yamato", "1234-5678")
    with pytest.raises(AlreadyDispatchedError):
        order.cancel(DUE)
    assert (order.status, order.refunded) == ("placed", 0)


# -- any order of the answers -----------------------------------------------------------------


@given(st.lists(st.sampled_from(["debited", "debit_refused", "time_out"]), max_size=8))
def test_any_interleaving_keeps_money_whole(answers: list[str]) -> None:
    """Whatever arrives, in any order and repeated: at most one debit is kept, and a debit
    of an order that did not stay placed is refunded, once."""
    order = an_order()
    order.ask_for_payment(DEADLINE)
    for answer in answers:
        if answer == "debited":
            order.debited(27_500, PLAN, DUE)
        elif answer == "debit_refused":
            order.debit_refused()
        else:
            order.time_out(DEADLINE)
    events = names(order)
    assert events.count("Placed") + events.count("LateDebitRefunded") <= 1
    assert events.count("Rejected") + events.count("TimedOut") <= 1
    if order.status == "placed":
        assert order.debited_amount == 27_500 and order.refunded == 0
    if order.debited_amount and order.status != "placed":
        assert order.refunded == order.debited_amount
    # the outcome depends only on which answer came first
    expected = {"debited": "placed", "debit_refused": "rejected", "time_out": "cancelled"}
    assert order.status == (expected[answers[0]] if answers else "awaiting_payment")


# -- the checks --------------------------------------------------------------------------------

PRODUCTS = {PHONE_ID: ProductFacts(1, True), UNIQUE_ID: ProductFacts(1, True)}
APPROVED = AccountFacts(screening="approved", circles=frozenset({CIRCLE}))


@pytest.mark.parametrize(
    ("lines", "products", "account", "expected"),
    [
        ([line("one_time"), line("shipping")], PRODUCTS, AccountFacts(), None),
        (
            [line("one_time"), line("monthly", UNIQUE_ID, circle_id=CIRCLE)],
            PRODUCTS,
            APPROVED,
            "mixed_billing",
        ),
        (
            [line("one_time"), line("cancellation", service_id="s")],
            PRODUCTS,
            APPROVED,
            "mixed_billing",
        ),
        (
            [line("monthly", UNIQUE_ID, circle_id=CIRCLE)],
            PRODUCTS,
            AccountFacts(circles=frozenset({CIRCLE})),
            "kyc_required",
        ),
        (
            [line("monthly", UNIQUE_ID, circle_id=CIRCLE)],
            PRODUCTS,
            AccountFacts(screening="expired", circles=frozenset({CIRCLE})),
            "kyc_required",
        ),
        ([line("monthly", UNIQUE_ID, circle_id=CIRCLE)], PRODUCTS, APPROVED, None),
        ([line("one_time", version=2)], PRODUCTS, AccountFacts(), "price_changed"),
        (
            [line("one_time")],
            {PHONE_ID: ProductFacts(1, False)},
            AccountFacts(),
            "product_unavailable",
        ),
        ([line("one_time")], {}, AccountFacts(), "product_unavailable"),
        (
            [line("monthly", UNIQUE_ID, circle_id=str(uuid.uuid4()))],
            PRODUCTS,
            APPROVED,
            "circle_unknown",
        ),
        (
            [line("one_time", circle_id=CIRCLE, unique_id="u-1")],
            PRODUCTS,
            APPROVED,
            "circle_unknown",
        ),
        (
            [line("one_time", circle_id=CIRCLE, unique_id="u-1")],
            PRODUCTS,
            AccountFacts(circles=frozenset({CIRCLE}), services={"u-1": CIRCLE}),
            None,
        ),
    ],
)
def test_the_checks(
    lines: list[dict[str, Any]],
    products: dict[str, ProductFacts],
    account: AccountFacts,
    expected: str | None,
) -> None:
    refusal = check_checkout(lines, products, account)
    assert (refusal.reason if isinstance(refusal, Refusal) else None) == expected
