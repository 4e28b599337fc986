"""The wallet end to end on both stacks: top-ups by each method, debits, refunds, events."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from pbx_events.envelope import parse


async def test_a_card_top_up_is_spendable_at_once_and_published_once(wallets: Any) -> None:
    account = await wallets.register()
    reply = await wallets.top_up(account, 5_000)
    assert reply.status_code == 201, reply.text
    charge = reply.json()
    assert charge["status"] == "confirmed" and charge["amount"] == 5_000
    assert await wallets.balance(account) == {
        "account_id": str(account),
        "balance": 5_000,
        "pending": 0,
        "low_balance_threshold": 0,
        "currency": "JPY",
    }
    await wallets.wait_for(lambda: wallets.of_type("WalletCharged"))
    event = parse(wallets.of_type("WalletCharged")[0])
    assert (event.amount, event.balance_after, event.method) == (5_000, 5_000, "credit_card")


async def test_a_declined_card_charges_nothing(wallets: Any) -> None:
    account = await wallets.register()
    reply = await wallets.top_up(account, 5_000, card_token="tok_decline_insufficient_funds")
    assert reply.status_code == 402
    assert reply.json()["code"] == "card_declined"
    assert (await wallets.balance(account))["balance"] == 0


async def test_a_convenience_store_charge_waits_for_the_provider_and_credits_once(
    wallets: Any,
) -> None:
    account = await wallets.register()
    reply = await wallets.top_up(account, 3_000, "convenience_store")
    assert reply.status_code == 201, reply.text
    charge = reply.json()
    assert charge["status"] == "pending"
    assert len(charge["payment"]["payment_slip_number"]) == 11
    assert charge["expires_at"]
    money = await wallets.balance(account)
    assert (money["balance"], money["pending"]) == (0, 3_000)
    signed = wallets.sandbox.pay(uuid.UUID(charge["charge_id"]), wallets.clock())
    for _ in range(5):
        answer = await wallets.notify(signed.body, signature=signed.signature)
        assert answer.status_code == 200, answer.text
    money = await wallets.balance(account)
    assert (money["balance"], money["pending"]) == (3_000, 0)
    await wallets.wait_for(lambda: wallets.of_type("WalletCharged"))
    await wallets.quiesce()
    assert len(wallets.of_type("WalletCharged")) == 1


async def test_an_unpaid_bank_transfer_expires_at_its_deadline(wallets: Any) -> None:
    account = await wallets.register()
    reply = await wallets.top_up(account, 10_000, "bank_transfer")
    charge = reply.json()
    assert charge["payment"]["account_number"]
    await wallets.quiesce()
    expiry = wallets.runtime.api.state.expiry
    assert await expiry.run_once() == 0  # not yet
    wallets.clock.advance(timedelta(days=7, seconds=1))
    assert await expiry.run_once() == 1
    money = await wallets.balance(account)
    assert (money["balance"], money["pending"]) == (0, 0)
    late = wallets.sandbox.pay(uuid.UUID(charge["charge_id"]), wallets.clock())
    answer = await wallets.notify(late.body)
    assert answer.json() == {"result": "recorded_for_reconciliation"}
    assert (await wallets.balance(account))["balance"] == 0
    await wallets.quiesce()
    found = await wallets.client.get("/reconciliations", headers=wallets.staff())
    assert [r["reason"] for r in found.json()] == ["charge_expired"]


async def test_debits_are_once_per_order_and_refunds_at_most_what_was_debited(
    wallets: Any,
) -> None:
    account = await wallets.funded(1_000)
    order = uuid.uuid4()
    first = wallets.message(wallets.debit(account, order, 700))
    again = wallets.message(wallets.debit(account, order, 700))  # the saga asked twice
    await wallets.publish(first, again, first)
    await wallets.wait_for(lambda: wallets.of_type("WalletDebited"))
    refund = wallets.message(wallets.refund(account, order, 900))
    await wallets.publish(refund, refund)
    await wallets.wait_for(lambda: wallets.of_type("WalletRefunded"))
    poor = uuid.uuid4()
    await wallets.publish(wallets.message(wallets.debit(account, poor, 5_000)))
    await wallets.wait_for(lambda: wallets.of_type("WalletDebitRejected"))
    await wallets.quiesce()
    assert len(wallets.of_type("WalletDebited")) == 1
    assert [parse(m).amount for m in wallets.of_type("WalletRefunded")] == [700]
    rejected = parse(wallets.of_type("WalletDebitRejected")[0])
    assert (rejected.reason, rejected.balance) == ("insufficient_funds", 1_000)
    assert (await wallets.balance(account))["balance"] == 1_000
    statement = (
        await wallets.client.get("/wallets/me/statement", headers=wallets.auth(account))
    ).json()
    assert [(i["kind"], i["amount"], i["balance_after"]) for i in statement["items"]] == [
        ("refunded", 700, 1_000),
        ("debited", -700, 300),
        ("charge_confirmed", 1_000, 1_000),
    ]
    assert json.dumps(statement, ensure_ascii=False).count("ご注文") == 2


async def test_a_card_top_up_without_a_card_token_is_refused_and_stores_nothing(
    wallets: Any,
) -> None:
    account = await wallets.register()
    reply = await wallets.client.post(
        "/wallets/me/top-ups",
        json={"amount": 5_000, "method": "credit_card"},
        headers=wallets.auth(account),
    )
    assert reply.status_code == 422
    assert [(e["field"], e["code"]) for e in reply.json()["errors"]] == [
        ("card_token", "card_token_required")
    ]
    assert await wallets.balance(account) == {
        "account_id": str(account),
        "balance": 0,
        "pending": 0,
        "low_balance_threshold": 0,
        "currency": "JPY",
    }
