"""kyc's screening decisions end to end: kyc.KycApproved.v1 / kyc.KycRejected.v1 /
kyc.KycExpired.v1 on the bus, one mail to the account's address (kyc holds none), exactly
once per event however often the message arrives; an unknown account is dropped without
blocking the queue, and identity publishes nothing for it.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import anyio
from prometheus_client import REGISTRY

import pbx_identity.consumers
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, to_message
from pbx_events.inbox import tracking_for
from pbx_events.kyc import KycApproved, KycExpired, KycRejected
from pbx_identity.mails import (
    SCREENING_APPROVED_SUBJECT,
    SCREENING_EXPIRED_SUBJECT,
    SCREENING_REJECTED_SUBJECT,
)

#: 19:00 in Japan
DECIDED_AT = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


def message_for(event: IntegrationEvent, position: int) -> Message:
    """The message kyc's relay would publish (``position``: its notification id)."""
    return to_message(
        event,
        message_id=str(uuid.uuid4()),
        producer_position=position,
        correlation_id=str(uuid.uuid4()),
        causation_id=None,
    )


def approved(
    account_id: str, position: int, valid_until: date | None = date(2028, 5, 31)
) -> Message:
    event = KycApproved(
        account_id=uuid.UUID(account_id),
        review_id=uuid.uuid4(),
        revision=1,
        approved_at=DECIDED_AT,
        valid_until=valid_until,
    )
    return message_for(event, position)


def rejected(account_id: str, reasons: list[str], position: int, revision: int = 1) -> Message:
    event = KycRejected(
        account_id=uuid.UUID(account_id),
        review_id=uuid.uuid4(),
        revision=revision,
        reasons=reasons,
        rejected_at=DECIDED_AT,
    )
    return message_for(event, position)


def decisions_queue() -> str:
    # the inbox's name for identity's queue (the metric label; the broker's carries a prefix)
    return pbx_identity.consumers.KYC_DECISIONS


def duplicates_skipped() -> float:
    value = REGISTRY.get_sample_value("pbx_inbox_duplicates_total", {"queue": decisions_queue()})
    return value or 0.0


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in time: {what}")
        await asyncio.sleep(0.05)


def tracked(s: Any, message: Message) -> Callable[[], Awaitable[bool]]:
    """Whether identity's inbox took the message (its tracking record is committed)."""
    tracking = tracking_for(decisions_queue(), message)
    return lambda: anyio.to_thread.run_sync(s.app.is_tracked, tracking)


def duplicates_at_least(count: float) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return duplicates_skipped() >= count

    return check


def relay_caught_up(s: Any) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return int(await s.runtime.api.state.relay.lag()) == 0

    return check


def notices_recorded(s: Any, account_id: str) -> int:
    history = s.app.account_history(uuid.UUID(account_id))
    return sum(
        1 for _version, change, _at in history if change == "screening_decision_notice_requested"
    )


async def test_an_approval_mails_the_customer_once_with_the_validity_date(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    await s.infra.bus.publish([approved(account["account_id"], position=1)])

    [mail] = await s.wait_for_mail(account["email"], SCREENING_APPROVED_SUBJECT)
    assert mail["Subject"] == "【クラウドPBX】審査が完了しました"
    assert mail["To"] == account["email"]
    body = mail.get_content()
    assert body.startswith("山田 太郎 様\n"), body
    assert "承認されました" in body
    assert "有効期限: 2028年5月31日" in body
    assert "審査が必要なサービス（ユニーク・電話番号・月額サービス）" in body
    assert s.infra.settings.login_url in body

    # the mailer and the relay have both passed the notice: one mail, nothing published
    await until(relay_caught_up(s), "the relay passed the notice")
    await asyncio.sleep(0.5)
    assert len(s.mails(account["email"], SCREENING_APPROVED_SUBJECT)) == 1
    assert len(s.mails(subject=SCREENING_APPROVED_SUBJECT)) == 1
    assert s.mails(subject=SCREENING_REJECTED_SUBJECT) == []
    assert {m.routing_key for m in s.seen} == {
        "identity.AccountRegistered.v1",
        "identity.ShippingAddressChanged.v1",
    }
    assert notices_recorded(s, account["account_id"]) == 1


async def test_a_rejection_mails_the_reasons_in_japanese_and_how_to_resubmit(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    reasons = ["document_unreadable", "name_mismatch", "a_code_identity_does_not_know"]
    await s.infra.bus.publish([rejected(account["account_id"], reasons, position=1)])

    [mail] = await s.wait_for_mail(account["email"], SCREENING_REJECTED_SUBJECT)
    assert mail["Subject"] == "【クラウドPBX】審査結果のお知らせ（再提出のお願い）"
    assert mail["To"] == account["email"]
    body = mail.get_content()
    assert body.startswith("山田 太郎 様\n"), body
    listed = [line for line in body.splitlines() if line.startswith("・")]
    assert listed == [
        "・書類の画像が不鮮明で確認できません",
        "・登録情報と書類の氏名が一致しません",
        "・ご提出書類に不備がありました（詳しくはサポートセンターへお問い合わせください）",
    ]
    assert "a_code_identity_does_not_know" not in body
    assert "アカウント情報 → 身分証明書アップロード" in body
    assert "再提出" in body

    await until(relay_caught_up(s), "the relay passed the notice")
    await asyncio.sleep(0.5)
    assert len(s.mails(subject=SCREENING_REJECTED_SUBJECT)) == 1
    assert s.mails(subject=SCREENING_APPROVED_SUBJECT) == []
    assert {m.routing_key for m in s.seen} == {
        "identity.AccountRegistered.v1",
        "identity.ShippingAddressChanged.v1",
    }
    assert notices_recorded(s, account["account_id"]) == 1


async def test_the_same_decision_delivered_again_sends_no_second_mail(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    message = rejected(account["account_id"], ["document_expired"], position=7)
    before = duplicates_skipped()  # the counter is per process, across tests

    # twice at once (a re-publish racing the first), then once more after it took effect
    await s.infra.bus.publish([message])
    await s.infra.bus.publish([message])
    await s.wait_for_mail(account["email"], SCREENING_REJECTED_SUBJECT)
    await until(duplicates_at_least(before + 1), "the first duplicate skipped")
    await s.infra.bus.publish([message])
    await until(duplicates_at_least(before + 2), "the second duplicate skipped")

    await asyncio.sleep(0.5)
    [mail] = s.mails(account["email"], SCREENING_REJECTED_SUBJECT)
    assert "・有効期限が切れています" in mail.get_content()
    assert notices_recorded(s, account["account_id"]) == 1
    assert duplicates_skipped() == before + 2
    assert await s.infra.bus.dead_letters(decisions_queue()) == []


async def test_a_rejection_then_an_approval_of_the_resubmission_send_one_mail_each(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    await s.infra.bus.publish([rejected(account["account_id"], ["registry_too_old"], 1)])
    [rejection] = await s.wait_for_mail(account["email"], SCREENING_REJECTED_SUBJECT)
    assert "・登記簿謄本の発行から3か月を超えています" in rejection.get_content()

    await s.infra.bus.publish([approved(account["account_id"], 2, valid_until=None)])
    [approval] = await s.wait_for_mail(account["email"], SCREENING_APPROVED_SUBJECT)
    assert "有効期限" not in approval.get_content()

    await asyncio.sleep(0.5)
    assert len(s.mails(account["email"])) == 3  # with the registration mail
    assert rejection["Message-ID"] != approval["Message-ID"]
    assert notices_recorded(s, account["account_id"]) == 2


async def test_a_decision_for_an_unknown_account_is_dropped_and_the_next_one_still_mails(
    identity_system: Any,
) -> None:
    s = identity_system
    unknown = approved(str(uuid.uuid4()), position=1)
    await s.infra.bus.publish([unknown])
    await until(tracked(s, unknown), "the unknown account's decision taken (once, acked)")

    account = await s.register()
    await s.infra.bus.publish([approved(account["account_id"], position=2)])
    [mail] = await s.wait_for_mail(account["email"], SCREENING_APPROVED_SUBJECT)
    assert "有効期限: 2028年5月31日" in mail.get_content()
    assert len(s.mails(subject=SCREENING_APPROVED_SUBJECT)) == 1
    assert await s.infra.bus.dead_letters(decisions_queue()) == []


async def test_an_expired_approval_mails_the_customer_once_asking_to_resubmit(
    identity_system: Any,
) -> None:
    s = identity_system
    account = await s.register()
    event = KycExpired(
        account_id=uuid.UUID(account["account_id"]),
        review_id=uuid.uuid4(),
        revision=2,
        expired_at=DECIDED_AT,
    )
    message = message_for(event, position=11)
    await s.infra.bus.publish([message])
    await s.infra.bus.publish([message])  # delivered twice

    [mail] = await s.wait_for_mail(account["email"], SCREENING_EXPIRED_SUBJECT)
    body = mail.get_content()
    assert body.startswith("山田 太郎 様\n"), body
    assert "2026年5月20日をもって審査の承認が終了しました" in body
    assert "アカウント情報 → 身分証明書アップロード" in body
    await until(tracked(s, message), "the expiry was taken")
    await asyncio.sleep(0.5)
    assert len(s.mails(account["email"], SCREENING_EXPIRED_SUBJECT)) == 1
    assert s.mails(subject=SCREENING_APPROVED_SUBJECT) == []
    assert notices_recorded(s, account["account_id"]) == 1
