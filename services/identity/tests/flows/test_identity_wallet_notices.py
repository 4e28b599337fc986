"""The wallet's low-balance notice end to end: wallet.WalletBalanceLow.v1 on the bus, one
mail to the account's address (the wallet holds none), exactly once per event however
often the message arrives; an unknown account is dropped without blocking the queue, and
identity publishes nothing for it.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from prometheus_client import REGISTRY

import pbx_identity.consumers
from pbx_events.envelope import Message, to_message
from pbx_events.inbox import tracking_for
from pbx_events.wallet import WalletBalanceLow
from pbx_identity.mails import LOW_BALANCE_SUBJECT

LOW_BALANCE = "wallet.WalletBalanceLow.v1"
#: 18:30 in Japan
OCCURRED_AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def balance_low(account_id: str, balance: int, threshold: int, position: int) -> Message:
    """The message the wallet's relay would publish (``position``: its notification id)."""
    event = WalletBalanceLow(
        account_id=uuid.UUID(account_id),
        balance=balance,
        threshold=threshold,
        occurred_at=OCCURRED_AT,
    )
    return to_message(
        event,
        message_id=str(uuid.uuid4()),
        producer_position=position,
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
    )


def notices_queue() -> str:
    # the inbox's name for identity's queue (the metric label; the broker's carries a prefix)
    return pbx_identity.consumers.WALLET_NOTICES


def duplicates_skipped() -> float:
    value = REGISTRY.get_sample_value("pbx_inbox_duplicates_total", {"queue": notices_queue()})
    return value or 0.0


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in time: {what}")
        await asyncio.sleep(0.05)


def tracked(s: Any, message: Message) -> Callable[[], Awaitable[bool]]:
    """Whether identity's inbox took the message (its tracking record is committed)."""
    tracking = tracking_for(notices_queue(), message)
    return lambda: anyio.to_thread.run_sync(s.app.is_tracked, tracking)


def duplicates_at_least(count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return duplicates_skipped() >= count

    return check


def relay_caught_up(s: Any) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return int(await s.runtime.api.state.relay.lag()) == 0

    return check


def notices_recorded(s: Any, account_id: str) -> int:
    history = s.app.account_history(uuid.UUID(account_id))
    return sum(1 for _version, change, _at in history if change == "low_balance_notice_requested")


async def test_a_low_balance_notice_mails_the_owner_once_with_both_amounts_in_yen(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    await s.infra.bus.publish([balance_low(account["account_id"], 4800, 5000, position=1)])

    [mail] = await s.wait_for_mail(account["email"], LOW_BALANCE_SUBJECT)
    assert mail["Subject"] == "【クラウドPBX】プリペイド残高が少なくなっています"
    assert mail["To"] == account["email"]
    body = mail.get_content()
    assert "残高: 4,800円（通知設定額: 5,000円）" in body
    assert "2026年4月1日 18:30 時点" in body
    assert "チャージ" in body
    assert s.infra.settings.login_url in body
    assert body.startswith("山田 太郎 様\n"), body

    # the mailer and the relay have both passed the notice: one mail, nothing published
    await until(relay_caught_up(s), "the relay passed the notice")
    await asyncio.sleep(0.5)
    assert len(s.mails(account["email"], LOW_BALANCE_SUBJECT)) == 1
    assert len(s.mails(subject=LOW_BALANCE_SUBJECT)) == 1
    assert {m.routing_key for m in s.seen} == {
        "identity.AccountRegistered.v1",
        "identity.ShippingAddressChanged.v1",
    }
    assert notices_recorded(s, account["account_id"]) == 1


async def test_the_same_notice_delivered_again_sends_no_second_mail(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    message = balance_low(account["account_id"], 4800, 5000, position=7)
    before = duplicates_skipped()  # the counter is per process, across tests

    # twice at once (a re-publish racing the first), then once more after it took effect
    await s.infra.bus.publish([message])
    await s.infra.bus.publish([message])
    await s.wait_for_mail(account["email"], LOW_BALANCE_SUBJECT)
    await until(duplicates_at_least(before + 1), "the first duplicate skipped")
    await s.infra.bus.publish([message])
    await until(duplicates_at_least(before + 2), "the second duplicate skipped")

    await asyncio.sleep(0.5)
    [mail] = s.mails(account["email"], LOW_BALANCE_SUBJECT)
    assert "残高: 4,800円（通知設定額: 5,000円）" in mail.get_content()
    assert notices_recorded(s, account["account_id"]) == 1
    assert duplicates_skipped() == before + 2
    assert await s.infra.bus.dead_letters(notices_queue()) == []


async def test_two_notices_send_two_mails_each_with_its_own_amounts(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    await s.infra.bus.publish(
        [
            balance_low(account["account_id"], 4800, 5000, position=1),
            balance_low(account["account_id"], 120, 1000, position=2),
        ]
    )

    mails = await s.wait_for_mail(account["email"], LOW_BALANCE_SUBJECT, count=2)
    await asyncio.sleep(0.5)
    assert len(s.mails(account["email"], LOW_BALANCE_SUBJECT)) == 2
    lines = sorted(
        line
        for mail in mails
        for line in mail.get_content().splitlines()
        if line.startswith("残高: ")
    )
    assert lines == ["残高: 120円（通知設定額: 1,000円）", "残高: 4,800円（通知設定額: 5,000円）"]
    assert len({mail["Message-ID"] for mail in mails}) == 2
    assert notices_recorded(s, account["account_id"]) == 2


async def test_a_notice_for_an_unknown_account_is_dropped_and_the_next_one_still_mails(
    identity_system: Any,
) -> None:
    s = identity_system
    unknown = balance_low(str(uuid.uuid4()), 0, 3000, position=1)
    await s.infra.bus.publish([unknown])
    await until(tracked(s, unknown), "the unknown account's notice taken (once, acked)")

    account = await s.register()
    await s.infra.bus.publish([balance_low(account["account_id"], 0, 3000, position=2)])
    [mail] = await s.wait_for_mail(account["email"], LOW_BALANCE_SUBJECT)
    assert "残高: 0円（通知設定額: 3,000円）" in mail.get_content()
    assert len(s.mails(subject=LOW_BALANCE_SUBJECT)) == 1
    assert await s.infra.bus.dead_letters(notices_queue()) == []
