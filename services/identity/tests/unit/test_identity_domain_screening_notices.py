"""The screening decision notice on the Account: noted once per kyc event, mailed in
Japanese (the validity date, the reasons, how to resubmit), and kept inside identity (no
integration event carries it)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from pbx_events.envelope import to_message
from pbx_events.kyc import KycApproved, KycRejected
from pbx_events.wallet import WalletBalanceLow
from pbx_identity.commands import RequestScreeningDecisionNotice
from pbx_identity.consumers import KYC_DECISIONS, ROUTES, on_kyc_approved, on_kyc_rejected
from pbx_identity.domain.account import Account
from pbx_identity.errors import AccountNotFoundError
from pbx_identity.integration import to_integration
from pbx_identity.mails import (
    REJECTION_REASONS,
    SCREENING_APPROVED_SUBJECT,
    SCREENING_REJECTED_SUBJECT,
    UNKNOWN_REJECTION_REASON,
    japanese_date,
    rejection_reasons,
    screening_decision_mail,
)
from pbx_kit.service import decider

AT = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
REVIEW = str(uuid4())
LOGIN_URL = "https://pbx.example.jp/login"
Notice = Account.ScreeningDecisionNoticeRequested


def an_account() -> Account:
    account = Account(
        login_id="PBX12345678",
        contractor_type="individual",
        contractor={"name": "山田 太郎", "email": "taro@example.co.jp"},
        representative=None,
        usage_contact=None,
        billing_contact=None,
        shipping_address=None,
        agency_code=None,
        payment_method="prepaid",
        terms={},
        email_domain_class="business",
        password_hash="x",
    )
    account.collect_events()
    return account


def approval(account: Account, valid_until: str | None = "2028-05-31") -> Any:
    account.request_screening_decision_notice(
        "evt-1", "approved", REVIEW, 1, AT, valid_until=valid_until
    )
    [notice] = account.collect_events()
    return notice


def rejection(account: Account, reasons: list[str]) -> Any:
    account.request_screening_decision_notice("evt-1", "rejected", REVIEW, 2, AT, reasons=reasons)
    [notice] = account.collect_events()
    return notice


def body_of(account: Account, notice: Any) -> str:
    return screening_decision_mail(account, notice, LOGIN_URL, str(uuid4())).body


# -- the domain event ------------------------------------------------------------------


def test_an_approval_notice_is_recorded_with_its_validity() -> None:
    account = an_account()
    notice = approval(account)
    assert isinstance(notice, Notice)
    assert (notice.notice_id, notice.decision, notice.review_id) == ("evt-1", "approved", REVIEW)
    assert (notice.revision, notice.decided_at, notice.valid_until) == (1, AT, "2028-05-31")
    assert notice.reasons == []
    assert account.last_screening_decision_notice == "evt-1"


def test_a_rejection_notice_is_recorded_with_its_reason_codes() -> None:
    account = an_account()
    notice = rejection(account, ["name_mismatch", "other"])
    assert (notice.decision, notice.revision, notice.valid_until) == ("rejected", 2, None)
    assert notice.reasons == ["name_mismatch", "other"]


def test_the_same_kyc_event_again_records_nothing_and_another_records_again() -> None:
    account = an_account()
    for _ in range(2):
        account.request_screening_decision_notice("evt-1", "rejected", REVIEW, 1, AT, reasons=[])
    assert len(account.collect_events()) == 1
    account.request_screening_decision_notice("evt-2", "approved", REVIEW, 2, AT)
    events: list[Any] = list(account.collect_events())
    assert [e.notice_id for e in events] == ["evt-2"]


def test_the_guards_of_the_two_notice_kinds_are_apart() -> None:
    account = an_account()
    account.request_low_balance_notice("evt-1", 100, 1000, AT)
    account.request_screening_decision_notice("evt-1", "approved", REVIEW, 1, AT)
    assert len(account.collect_events()) == 2


def test_an_unknown_decision_is_refused() -> None:
    with pytest.raises(ValueError, match="pending"):
        an_account().request_screening_decision_notice("evt-1", "pending", REVIEW, 1, AT)


def test_a_screening_decision_notice_publishes_no_integration_event() -> None:
    account = an_account()
    assert to_integration(approval(account)) == []
    assert to_integration(rejection(an_account(), ["other"])) == []


# -- the mails -----------------------------------------------------------------------------


def test_the_approval_mail_gives_the_validity_date_and_the_services_now_usable() -> None:
    account = an_account()
    mail = screening_decision_mail(account, approval(account), LOGIN_URL, "mid-1")
    assert (mail.to, mail.subject, mail.message_id) == (
        "taro@example.co.jp",
        SCREENING_APPROVED_SUBJECT,
        "mid-1",
    )
    assert SCREENING_APPROVED_SUBJECT == "【クラウドPBX】審査が完了しました"
    assert mail.body.startswith("山田 太郎 様\n")
    assert "審査が完了し、承認されました" in mail.body
    assert "有効期限: 2028年5月31日\n" in mail.body
    assert "審査が必要なサービス（ユニーク・電話番号・月額サービス）をご利用いただけるように" in (
        mail.body
    )
    assert f"ログインURL: {LOGIN_URL}\n" in mail.body
    assert "再提出" not in mail.body


def test_an_approval_without_an_end_has_no_validity_line() -> None:
    account = an_account()
    body = body_of(account, approval(account, valid_until=None))
    assert "有効期限" not in body
    assert "承認されました" in body


def test_the_rejection_mail_lists_every_known_reason_in_japanese_in_order() -> None:
    account = an_account()
    codes = list(REJECTION_REASONS)
    mail = screening_decision_mail(account, rejection(account, codes), LOGIN_URL, "mid-2")
    assert mail.subject == SCREENING_REJECTED_SUBJECT
    assert mail.subject == "【クラウドPBX】審査結果のお知らせ（再提出のお願い）"
    assert mail.to == "taro@example.co.jp"
    listed = [line for line in mail.body.splitlines() if line.startswith("・")]
    assert listed == [
        "・書類の画像が不鮮明で確認できません",
        "・有効期限が切れています",
        "・登録情報と書類の氏名が一致しません",
        "・登録情報と書類の住所が一致しません",
        "・必要な面・ページがそろっていません",
        "・登記簿謄本の発行から3か月を超えています",
        "・その他（担当者からの連絡をご確認ください）",
    ]
    assert "「アカウント情報 → 身分証明書アップロード」から書類を再提出してください" in mail.body
    assert f"ログインURL: {LOGIN_URL}\n" in mail.body
    for code in codes:
        assert code not in mail.body


def test_an_unknown_reason_code_reads_as_the_generic_reason_and_never_as_the_code() -> None:
    account = an_account()
    body = body_of(account, rejection(account, ["name_mismatch", "blurry_selfie_v2"]))
    listed = [line for line in body.splitlines() if line.startswith("・")]
    assert listed == ["・登録情報と書類の氏名が一致しません", f"・{UNKNOWN_REJECTION_REASON}"]
    assert "blurry_selfie_v2" not in body


def test_reasons_are_listed_once_and_no_reason_at_all_still_gives_one() -> None:
    assert rejection_reasons(["other", "other", "x", "y"]) == [
        REJECTION_REASONS["other"],
        UNKNOWN_REJECTION_REASON,
    ]
    assert rejection_reasons([]) == [UNKNOWN_REJECTION_REASON]


def test_dates_are_written_the_japanese_way() -> None:
    assert japanese_date(date(2028, 5, 31)) == "2028年5月31日"
    assert japanese_date(date(2027, 1, 1)) == "2027年1月1日"


# -- the consumer's translation --------------------------------------------------------------


class RecordingApp:
    def __init__(self, known: bool = True) -> None:
        self.known = known
        self.commands: list[RequestScreeningDecisionNotice] = []

    def request_screening_decision_notice(
        self, cmd: RequestScreeningDecisionNotice
    ) -> list[Account]:
        self.commands.append(cmd)
        if not self.known:
            raise AccountNotFoundError
        return [an_account()]


def message_of(event: Any) -> Any:
    return to_message(
        event, message_id="msg-1", producer_position=3, correlation_id=None, causation_id=None
    )


def test_an_approval_becomes_a_notice_command_with_the_message_id() -> None:
    app = RecordingApp()
    account_id, review_id = uuid4(), uuid4()
    event = KycApproved(
        account_id=account_id,
        review_id=review_id,
        revision=3,
        approved_at=AT,
        valid_until=date(2028, 5, 31),
    )
    on_kyc_approved(app, event, message_of(event))  # type: ignore[arg-type]
    assert app.commands == [
        RequestScreeningDecisionNotice(
            account_id=account_id,
            notice_id="msg-1",
            decision="approved",
            review_id=review_id,
            revision=3,
            decided_at=AT,
            valid_until=date(2028, 5, 31),
        )
    ]


def test_a_rejection_for_an_unknown_account_is_dropped() -> None:
    app = RecordingApp(known=False)
    event = KycRejected(
        account_id=uuid4(), review_id=uuid4(), revision=1, reasons=["other"], rejected_at=AT
    )
    on_kyc_rejected(app, event, message_of(event))  # type: ignore[arg-type]
    [command] = app.commands
    assert (command.decision, command.reasons, command.valid_until) == (
        "rejected",
        ("other",),
        None,
    )


def test_another_event_on_the_kyc_queue_is_acknowledged_without_effect() -> None:
    app = RecordingApp()
    event = WalletBalanceLow(account_id=UUID(int=1), balance=0, threshold=1, occurred_at=AT)
    decide = decider(app, ROUTES[KYC_DECISIONS])  # type: ignore[arg-type]
    assert decide(event, message_of(event)) == []
    assert app.commands == []


def test_a_company_is_told_about_its_company_name_not_a_persons() -> None:
    assert rejection_reasons(["name_mismatch"]) == [REJECTION_REASONS["name_mismatch"]]
    for contractor_type in ("corporation", "telemarketing"):
        [text] = rejection_reasons(["name_mismatch"], contractor_type)
        assert "会社名" in text and "氏名" not in text
