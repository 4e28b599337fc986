"""The owner's low-balance notice and the auditors' unused-balance report, on both stacks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pbx_events.envelope import parse

JST = ZoneInfo("Asia/Tokyo")
THRESHOLD = 5_000


# -- the low-balance notice ------------------------------------------------------


async def test_the_low_balance_notice_is_published_once_per_crossing(wallets: Any) -> None:
    account = await wallets.funded(10_000)
    owner = wallets.auth(account)
    reply = await wallets.client.patch(
        "/wallets/me", json={"low_balance_threshold": THRESHOLD}, headers=owner
    )
    assert reply.status_code == 200, reply.text
    assert (reply.json()["balance"], reply.json()["low_balance_threshold"]) == (10_000, THRESHOLD)
    assert (await wallets.balance(account))["low_balance_threshold"] == THRESHOLD

    async def debit(amount: int) -> None:
        await wallets.deliver(wallets.message(wallets.debit(account, uuid.uuid4(), amount)))

    async def notices() -> list[tuple[int, int]]:
        await wallets.published_all()
        await wallets.quiesce()
        events = [parse(m) for m in wallets.of_type("WalletBalanceLow")]
        assert all(e.account_id == account for e in events)
        return [(e.balance, e.threshold) for e in events]

    await debit(3_000)  # 7,000: still above
    assert await notices() == []
    await debit(3_000)  # 4,000: crossed below
    await wallets.wait_for(lambda: wallets.of_type("WalletBalanceLow"))
    assert await notices() == [(4_000, THRESHOLD)]
    await debit(1_000)  # 3,000: still below, already told
    await debit(1_000)  # 2,000
    await debit(50_000)  # rejected: nothing moves
    assert await notices() == [(4_000, THRESHOLD)]
    assert (await wallets.balance(account))["balance"] == 2_000

    top_up = await wallets.top_up(account, 5_000)  # 7,000: above again, re-armed
    assert top_up.status_code == 201, top_up.text
    assert await notices() == [(4_000, THRESHOLD)]
    await debit(2_000)  # 5,000: at the threshold is not below it
    assert await notices() == [(4_000, THRESHOLD)]
    await debit(1_500)  # 3,500: crossed again
    await wallets.wait_for(lambda: len(wallets.of_type("WalletBalanceLow")) == 2)
    assert await notices() == [(4_000, THRESHOLD), (3_500, THRESHOLD)]
    await debit(500)  # 3,000
    assert await notices() == [(4_000, THRESHOLD), (3_500, THRESHOLD)]
    # the notice is not a movement of money
    kinds = {line["kind"] for line in await wallets.statement(account)}
    assert kinds == {"charge_confirmed", "debited"}
    assert (await wallets.balance(account))["balance"] == 3_000


async def test_no_threshold_no_notice(wallets: Any) -> None:
    account = await wallets.funded(1_000)
    await wallets.deliver(wallets.message(wallets.debit(account, uuid.uuid4(), 1_000)))
    await wallets.wait_for(lambda: wallets.of_type("WalletDebited"))
    await wallets.published_all()
    assert not wallets.of_type("WalletBalanceLow")


# -- the unused-balance report ---------------------------------------------------


def report_url(day: date | str) -> str:
    return f"/reports/unused-balance?date={day}"


def end_of_day_jst(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=JST) + timedelta(days=1)


async def report(wallets: Any, day: date | str, role: str = "auditor") -> dict[str, Any]:
    reply = await wallets.client.get(report_url(day), headers=wallets.staff(role))
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


async def test_the_unused_balance_report_totals_confirmed_balances_at_the_end_of_a_day(
    wallets: Any,
) -> None:
    spender = await wallets.funded(10_000)
    order = uuid.uuid4()
    await wallets.deliver(
        wallets.message(wallets.debit(spender, order, 3_000)),
        wallets.message(wallets.refund(spender, order, 1_000)),
    )
    saver = await wallets.funded(5_000)
    pending = await wallets.top_up(saver, 3_000, "convenience_store")  # not paid: excluded
    assert pending.status_code == 201, pending.text
    declined = await wallets.top_up(saver, 2_000, card_token="tok_decline_insufficient_funds")
    assert declined.status_code == 402
    await wallets.register()  # a wallet with nothing in it
    await wallets.quiesce()

    posted = [
        datetime.fromisoformat(line["posted_at"]).astimezone(JST)
        for account in (spender, saver)
        for line in await wallets.statement(account)
    ]
    # the movements are stamped with real time: today in Japan (unless midnight passed)
    first_day, last_day = min(posted).date(), max(posted).date()
    assert first_day >= datetime.now(JST).date() - timedelta(days=1)

    for role in ("auditor", "admin"):
        today = await report(wallets, last_day, role)
        assert today == {
            "date": last_day.isoformat(),
            "as_of": end_of_day_jst(last_day).isoformat(),
            "total": 8_000 + 5_000,
            "wallets": 2,
        }
    assert datetime.fromisoformat(today["as_of"]).utcoffset() == timedelta(hours=9)
    yesterday = first_day - timedelta(days=1)
    assert await report(wallets, yesterday) == {
        "date": yesterday.isoformat(),
        "as_of": end_of_day_jst(yesterday).isoformat(),
        "total": 0,
        "wallets": 0,
    }
    assert (await report(wallets, date(2020, 3, 31)))["total"] == 0
    assert (await report(wallets, last_day + timedelta(days=30)))["total"] == 13_000

    # a later movement counts from its own day on, never for a day before it
    await wallets.deliver(wallets.message(wallets.debit(saver, uuid.uuid4(), 5_000)))
    await wallets.quiesce()
    now_day = datetime.now(JST).date()
    assert (await report(wallets, now_day))["total"] == 8_000
    assert (await report(wallets, now_day))["wallets"] == 1
    assert (await report(wallets, yesterday))["total"] == 0


async def test_the_report_is_for_auditors_and_admins_with_a_valid_date(wallets: Any) -> None:
    account = await wallets.funded(1_000)
    today = datetime.now(JST).date()
    as_customer = await wallets.client.get(report_url(today), headers=wallets.auth(account))
    assert as_customer.status_code == 403
    anonymous = await wallets.client.get(report_url(today))
    assert anonymous.status_code == 401
    for bad in ("2024-02-30", "2024-13-01", "yesterday", "20240301", ""):
        reply = await wallets.client.get(report_url(bad), headers=wallets.staff())
        assert reply.status_code == 422, (bad, reply.text)
    missing = await wallets.client.get("/reports/unused-balance", headers=wallets.staff())
    assert missing.status_code == 422


async def test_a_number_is_not_a_report_date(wallets: Any) -> None:
    """The date is YYYY-MM-DD (the OpenAPI ``format: date``); a number is not read as a
    Unix timestamp (``0`` would be a report for 1970-01-01)."""
    for number in ("0", "86400", "1743465600"):
        reply = await wallets.client.get(report_url(number), headers=wallets.staff())
        assert reply.status_code == 422, (number, reply.text)


async def test_the_report_day_ends_at_midnight_japan_time(
    wallets: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Movements just before and at 00:00 JST (15:00 UTC the day before) fall on either day."""
    account = await wallets.register()
    stamp = {"at": datetime(2025, 3, 31, 14, 59, 59, tzinfo=UTC)}  # 3/31 23:59:59 JST
    # the event store stamps events with the library's clock: pinned for this test
    monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", lambda: stamp["at"])
    reply = await wallets.top_up(account, 10_000)
    assert reply.status_code == 201, reply.text
    stamp["at"] = datetime(2025, 3, 31, 15, 0, 0, tzinfo=UTC)  # 4/1 00:00:00 JST
    await wallets.deliver(wallets.message(wallets.debit(account, uuid.uuid4(), 3_000)))
    pending = await wallets.top_up(account, 2_000, "bank_transfer")
    assert pending.status_code == 201, pending.text
    stamp["at"] = datetime(2025, 4, 1, 14, 59, 59, tzinfo=UTC)  # 4/1 23:59:59 JST
    order = uuid.uuid4()
    await wallets.deliver(
        wallets.message(wallets.debit(account, order, 1_000)),
        wallets.message(wallets.refund(account, order, 400)),
    )
    await wallets.quiesce()
    monkeypatch.undo()

    assert (await report(wallets, "2025-03-30"))["total"] == 0
    assert (await report(wallets, "2025-03-31"))["total"] == 10_000
    assert (await report(wallets, "2025-04-01"))["total"] == 10_000 - 3_000 - 1_000 + 400
    assert (await report(wallets, "2025-04-02"))["total"] == 6_400
