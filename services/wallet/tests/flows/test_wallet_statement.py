"""The customer's statement on both stacks: one line per completed movement of their
money, pending top-ups listed apart with their deadline, a short bank transfer that says
what is missing, integer yen, times in Japan time."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def notice(charge_id: uuid.UUID | str, amount: int, notification_id: str) -> bytes:
    return json.dumps(
        {
            "notification_id": notification_id,
            "charge_id": str(charge_id),
            "status": "paid",
            "amount": amount,
            "paid_at": "2026-12-07T21:00:00+09:00",
        },
        separators=(",", ":"),
    ).encode()


async def statement(wallets: Any, account: uuid.UUID) -> dict[str, Any]:
    reply = await wallets.client.get(
        "/wallets/me/statement", params={"per_page": 100}, headers=wallets.auth(account)
    )
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


async def top_up_view(wallets: Any, account: uuid.UUID, charge: Any) -> dict[str, Any]:
    reply = await wallets.client.get(f"/wallets/me/top-ups/{charge}", headers=wallets.auth(account))
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def in_jst(stamp: str) -> datetime:
    """An API time: ISO 8601 with the +09:00 offset."""
    assert stamp.endswith("+09:00"), stamp
    return datetime.fromisoformat(stamp)


def jst_words(moment: datetime) -> str:
    """A time as a Japanese sentence says it: 2026年12月8日 21:00."""
    at = moment.astimezone(JST)
    return f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}"


def ints(value: Any) -> None:
    """Every number in a response is an integer (yen), never a float or a string of money."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("amount", "balance_after", "requested", "paid", "missing"):
                assert type(item) is int, (key, item)
            ints(item)
    elif isinstance(value, list):
        for item in value:
            ints(item)
    else:
        assert not isinstance(value, float), value


async def test_a_card_top_up_is_one_line_and_a_declined_card_leaves_none(wallets: Any) -> None:
    account = await wallets.register()
    assert (await wallets.top_up(account, 5_000)).status_code == 201
    declined = await wallets.top_up(account, 2_000, card_token="tok_decline_insufficient_funds")
    assert declined.status_code == 402
    await wallets.quiesce()
    data = await statement(wallets, account)
    ints(data)
    assert data["total"] == 1 and data["pending"] == []
    [line] = data["items"]
    assert (line["kind"], line["method"], line["amount"], line["balance_after"]) == (
        "charge_confirmed",
        "credit_card",
        5_000,
        5_000,
    )
    assert "pending_after" not in line and "pending_change" not in line
    in_jst(line["posted_at"])
    # the auditor reads what the customer reads, and the ledger keeps every posting
    staff = await wallets.client.get(f"/wallets/{account}/statement", headers=wallets.staff())
    assert staff.json() == await statement(wallets, account) | {"per_page": 20}
    ledger = await wallets.client.get(f"/wallets/{account}/ledger", headers=wallets.staff())
    assert ledger.status_code == 200, ledger.text
    assert [i["kind"] for i in ledger.json()["items"]] == [
        "charge_declined",
        "charge_requested",
        "charge_confirmed",
        "charge_requested",
    ]
    refused = await wallets.client.get(f"/wallets/{account}/ledger", headers=wallets.auth(account))
    assert refused.status_code == 403


async def test_a_pending_top_up_is_listed_apart_with_its_deadline_in_japan_time(
    wallets: Any,
) -> None:
    account = await wallets.register()
    reply = await wallets.top_up(account, 10_000, "bank_transfer")
    assert reply.status_code == 201, reply.text
    charge = reply.json()
    ints(charge)
    assert charge["payment"]["transfer_amount"] == 10_000
    deadline = in_jst(charge["expires_at"])
    in_jst(charge["requested_at"])
    await wallets.quiesce()
    data = await statement(wallets, account)
    ints(data)
    assert (data["items"], data["total"]) == ([], 0)
    [pending] = data["pending"]
    assert pending["charge_id"] == charge["charge_id"]
    assert (pending["method"], pending["requested"], pending["paid"], pending["missing"]) == (
        "bank_transfer",
        10_000,
        0,
        10_000,
    )
    assert in_jst(pending["expires_at"]) == deadline
    assert f"{jst_words(deadline)}まで" in pending["message"]
    # unpaid at the deadline: it leaves the pending list and never was a movement
    wallets.clock.advance(timedelta(days=7, seconds=1))
    assert await wallets.runtime.api.state.expiry.run_once() == 1
    await wallets.quiesce()
    data = await statement(wallets, account)
    assert (data["items"], data["total"], data["pending"]) == ([], 0, [])


async def test_a_short_bank_transfer_credits_what_arrived_and_says_what_is_missing(
    wallets: Any,
) -> None:
    account = await wallets.register()
    charge = (await wallets.top_up(account, 10_000, "bank_transfer")).json()
    charge_id = charge["charge_id"]
    reply = await wallets.notify(notice(charge_id, 8_000, "ntf_first_transfer"))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"result": "partially_credited"}
    again = await wallets.notify(notice(charge_id, 8_000, "ntf_first_transfer"))
    assert again.json() == {"result": "duplicate"}
    money = await wallets.balance(account)
    assert (money["balance"], money["pending"]) == (8_000, 2_000)
    view = await top_up_view(wallets, account, charge_id)
    ints(view)
    assert (view["status"], view["amount"], view["paid"], view["missing"]) == (
        "pending",
        10_000,
        8_000,
        2_000,
    )
    deadline = in_jst(view["expires_at"])
    assert view["message"].startswith(
        "お振込金額が¥2,000不足しています。不足分¥2,000をお振込みください"
    ), view["message"]
    assert f"{jst_words(deadline)}まで" in view["message"]
    await wallets.quiesce()
    data = await statement(wallets, account)
    ints(data)
    assert [(i["kind"], i["amount"], i["balance_after"]) for i in data["items"]] == [
        ("charge_partially_paid", 8_000, 8_000)
    ]
    [pending] = data["pending"]
    assert (pending["requested"], pending["paid"], pending["missing"]) == (10_000, 8_000, 2_000)
    assert pending["message"] == view["message"]
    # the rest arrives: the top-up is complete, a second line, nothing pending
    rest = await wallets.notify(notice(charge_id, 2_000, "ntf_second_transfer"))
    assert rest.json() == {"result": "credited"}
    view = await top_up_view(wallets, account, charge_id)
    assert (view["status"], view["paid"], view["missing"], view["message"]) == (
        "confirmed",
        10_000,
        0,
        None,
    )
    await wallets.quiesce()
    data = await statement(wallets, account)
    assert [(i["kind"], i["amount"], i["balance_after"]) for i in data["items"]] == [
        ("charge_confirmed", 2_000, 10_000),
        ("charge_partially_paid", 8_000, 8_000),
    ]
    assert data["pending"] == []
    await wallets.wait_for(lambda: len(wallets.of_type("WalletCharged")) == 2)
    # a timer tick at the deadline asks the provider, which reports 10,000 paid in all
    wallets.clock.advance(timedelta(days=7, seconds=1))
    await wallets.runtime.api.state.expiry.run_once()
    assert (await wallets.balance(account))["balance"] == 10_000
    sums = await wallets.runtime.api.state.ledger_store.ledger_sums()
    assert sum(sums.values()) == 0


async def test_a_short_bank_transfer_never_completed_keeps_what_arrived(wallets: Any) -> None:
    account = await wallets.register()
    charge_id = (await wallets.top_up(account, 10_000, "bank_transfer")).json()["charge_id"]
    paid = wallets.sandbox.pay(uuid.UUID(charge_id), wallets.clock(), 7_000)
    reply = await wallets.notify(paid.body, signature=paid.signature)
    assert reply.json() == {"result": "partially_credited"}
    await wallets.quiesce()
    wallets.clock.advance(timedelta(days=7, seconds=1))
    expiry = wallets.runtime.api.state.expiry
    assert await expiry.run_once() == 1
    await wallets.quiesce()
    assert await expiry.run_once() == 0
    money = await wallets.balance(account)
    assert (money["balance"], money["pending"]) == (7_000, 0)
    view = await top_up_view(wallets, account, charge_id)
    assert (view["status"], view["paid"], view["missing"], view["expires_at"]) == (
        "expired",
        7_000,
        3_000,
        None,
    )
    data = await statement(wallets, account)
    assert [(i["kind"], i["amount"]) for i in data["items"]] == [("charge_partially_paid", 7_000)]
    assert data["pending"] == []
    sums = await wallets.runtime.api.state.ledger_store.ledger_sums()
    assert sum(sums.values()) == 0 and sums["customer_balance"] == 7_000
