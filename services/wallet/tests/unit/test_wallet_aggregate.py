"""The Wallet aggregate's rules, on state and on the events it records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pbx_wallet.domain.wallet import (
    MAX_PENDING_CHARGES,
    ChargeNotFoundError,
    TooManyPendingChargesError,
    Wallet,
)

NOW = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)


def a_wallet_with(balance: int) -> Wallet:
    wallet = Wallet.open(uuid.uuid4())
    if balance:
        charge = uuid.uuid4()
        wallet.request_charge(charge, "bank_transfer", balance, {}, NOW + timedelta(days=7))
        assert wallet.confirm_charge(charge, balance, "n-funding") == "credited"
    wallet.collect_events()
    return wallet


def names(wallet: Wallet) -> list[str]:
    return [type(e).__name__ for e in wallet.collect_events()]


def test_the_ledger_accounts_always_sum_to_zero() -> None:
    wallet = a_wallet_with(10_000)
    order = uuid.uuid4()
    wallet.debit(order, 3_000)
    wallet.refund(order, 1_000)
    pending = uuid.uuid4()
    wallet.request_charge(pending, "convenience_store", 2_000, {}, NOW)
    assert sum(wallet.ledger.values()) == 0
    assert (wallet.balance, wallet.pending) == (8_000, 2_000)
    assert wallet.ledger == {
        "customer_balance": 8_000,
        "pending_charges": 2_000,
        "provider_clearing": -12_000,
        "sales": 3_000,
        "refunds": -1_000,
    }


def test_debit_is_refused_when_balance_would_go_negative() -> None:
    wallet = a_wallet_with(1_000)
    outcome = wallet.debit(uuid.uuid4(), 1_001)
    assert not outcome.debited
    assert wallet.balance == 1_000
    assert names(wallet) == ["DebitRejected"]


def test_a_repeated_order_gets_the_first_outcome_and_records_nothing() -> None:
    wallet = a_wallet_with(1_000)
    order = uuid.uuid4()
    assert wallet.debit(order, 600).debited
    names(wallet)
    again = wallet.debit(order, 600)
    assert (again.debited, again.amount, wallet.balance) == (True, 600, 400)
    assert names(wallet) == []
    refused = uuid.uuid4()
    assert not wallet.debit(refused, 5_000).debited
    wallet.refund(uuid.uuid4(), 1)  # unrelated
    names(wallet)
    wallet.collect_events()
    assert not wallet.debit(refused, 100).debited  # the first outcome, though it would fit now
    assert names(wallet) == []


def test_a_refund_is_at_most_the_debit_and_happens_once() -> None:
    wallet = a_wallet_with(1_000)
    order = uuid.uuid4()
    wallet.debit(order, 700)
    assert wallet.refund(order, 900) is True
    assert wallet.balance == 1_000
    assert wallet.refund(order, 900) is False
    assert wallet.balance == 1_000
    assert wallet.orders[str(order)]["refunded"] == 700


def test_a_refund_that_arrives_before_its_debit_is_applied_with_the_debit() -> None:
    wallet = a_wallet_with(1_000)
    order = uuid.uuid4()
    assert wallet.refund(order, 700) is False
    assert wallet.balance == 1_000
    assert names(wallet) == ["RefundAwaited"]
    assert wallet.debit(order, 700).debited
    assert names(wallet) == ["Debited", "Refunded"]
    assert wallet.balance == 1_000


def test_a_refund_for_a_rejected_order_moves_nothing() -> None:
    wallet = a_wallet_with(100)
    order = uuid.uuid4()
    wallet.debit(order, 500)
    names(wallet)
    assert wallet.refund(order, 500) is False
    assert (wallet.balance, names(wallet)) == (100, [])


def test_only_confirmed_money_is_spendable() -> None:
    wallet = a_wallet_with(0)
    charge = uuid.uuid4()
    wallet.request_charge(charge, "convenience_store", 5_000, {"payment_slip_number": "1"}, NOW)
    assert (wallet.balance, wallet.pending) == (0, 5_000)
    assert not wallet.debit(uuid.uuid4(), 1).debited
    assert wallet.confirm_charge(charge, 5_000, "n1") == "credited"
    assert (wallet.balance, wallet.pending) == (5_000, 0)


def test_a_notification_counts_once() -> None:
    wallet = a_wallet_with(0)
    charge = uuid.uuid4()
    wallet.request_charge(charge, "convenience_store", 5_000, {}, NOW)
    names(wallet)
    assert wallet.confirm_charge(charge, 5_000, "n1") == "credited"
    assert wallet.confirm_charge(charge, 5_000, "n1") == "duplicate"
    assert wallet.confirm_charge(charge, 5_000, "n2") == "already_confirmed"
    assert names(wallet) == ["ChargeConfirmed"]
    assert wallet.balance == 5_000


def test_a_payment_for_an_expired_charge_is_recorded_not_credited() -> None:
    wallet = a_wallet_with(0)
    charge = uuid.uuid4()
    wallet.request_charge(charge, "bank_transfer", 5_000, {}, NOW)
    assert wallet.expire_charge(charge, NOW - timedelta(seconds=1)) is False
    assert wallet.expire_charge(charge, NOW) is True
    assert wallet.confirm_charge(charge, 5_000, "late") == "recorded_for_reconciliation"
    assert wallet.confirm_charge(charge, 5_000, "late") == "duplicate"
    assert (wallet.balance, wallet.pending) == (0, 0)
    assert [r["reason"] for r in wallet.reconciliations] == ["charge_expired"]


def test_a_payment_of_another_amount_is_recorded_and_the_charge_stays_pending() -> None:
    wallet = a_wallet_with(0)
    charge = uuid.uuid4()
    wallet.request_charge(charge, "convenience_store", 5_000, {}, NOW)
    assert wallet.confirm_charge(charge, 4_999, "short") == "recorded_for_reconciliation"
    assert (wallet.balance, wallet.pending) == (0, 5_000)
    assert wallet.charge(charge)["status"] == "pending"
    transfer = uuid.uuid4()
    wallet.request_charge(transfer, "bank_transfer", 5_000, {}, NOW)
    assert wallet.confirm_charge(transfer, 5_001, "over") == "recorded_for_reconciliation"
    assert (wallet.balance, wallet.pending) == (0, 10_000)


def test_a_short_bank_transfer_credits_what_arrived_and_awaits_the_rest() -> None:
    wallet = a_wallet_with(0)
    charge = uuid.uuid4()
    wallet.request_charge(charge, "bank_transfer", 5_000, {}, NOW)
    assert wallet.confirm_charge(charge, 3_000, "first") == "partially_credited"
    assert wallet.confirm_charge(charge, 3_000, "first") == "duplicate"
    assert (wallet.balance, wallet.pending) == (3_000, 2_000)
    assert (wallet.charge(charge)["status"], wallet.charge(charge)["paid"]) == ("pending", 3_000)
    # asking the provider tells the total received: nothing new
    assert wallet.confirm_charge(charge, 3_000) == "duplicate"
    # the rest arrives, unnotified: the provider's total completes it
    assert wallet.confirm_charge(charge, 5_000) == "credited"
    assert (wallet.balance, wallet.pending, wallet.charge(charge)["status"]) == (
        5_000,
        0,
        "confirmed",
    )
    assert sum(wallet.ledger.values()) == 0
    # never completed: at the deadline only the missing part expires
    short = uuid.uuid4()
    wallet.request_charge(short, "bank_transfer", 4_000, {}, NOW)
    assert wallet.confirm_charge(short, 1_000) == "partially_credited"  # learnt by asking
    assert wallet.confirm_charge(short, 1_000, "its_notification") == "duplicate"
    assert wallet.expire_charge(short, NOW) is True
    assert (wallet.balance, wallet.pending, wallet.charge(short)["status"]) == (6_000, 0, "expired")
    assert sum(wallet.ledger.values()) == 0


def test_unpaid_charges_are_limited_and_unknown_charges_refused() -> None:
    wallet = a_wallet_with(0)
    for _ in range(MAX_PENDING_CHARGES):
        wallet.request_charge(uuid.uuid4(), "convenience_store", 1_000, {}, NOW)
    with pytest.raises(TooManyPendingChargesError):
        wallet.request_charge(uuid.uuid4(), "convenience_store", 1_000, {}, NOW)
    with pytest.raises(ChargeNotFoundError):
        wallet.confirm_charge(uuid.uuid4(), 1_000, "n")


def test_the_low_balance_notice_is_once_per_crossing() -> None:
    wallet = a_wallet_with(10_000)
    wallet.set_low_balance_threshold(5_000)
    names(wallet)
    wallet.debit(uuid.uuid4(), 4_000)  # 6,000: above
    assert names(wallet) == ["Debited"]
    wallet.debit(uuid.uuid4(), 2_000)  # 4,000: crossed
    assert names(wallet) == ["Debited", "BalanceLow"]
    wallet.debit(uuid.uuid4(), 1_000)  # still below: no second notice
    assert names(wallet) == ["Debited"]
    charge = uuid.uuid4()
    wallet.request_charge(charge, "credit_card", 5_000, {}, NOW)
    wallet.confirm_charge(charge, 5_000)  # 8,000: re-armed
    wallet.debit(uuid.uuid4(), 4_000)  # 4,000: crossed again
    assert names(wallet)[-1] == "BalanceLow"
