"""The low-balance notice on the Account: noted once per wallet event, mailed in yen,
and kept inside identity (no integration event carries it)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from pbx_identity.domain.account import Account
from pbx_identity.integration import to_integration
from pbx_identity.mails import LOW_BALANCE_SUBJECT, low_balance_mail, yen

AT = datetime(2026, 4, 1, 15, 5, tzinfo=UTC)  # 00:05 on 2 April in Japan
LowBalanceNoticeRequested = Account.LowBalanceNoticeRequested


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


def test_a_low_balance_notice_is_recorded_with_its_amounts() -> None:
    account = an_account()
    account.request_low_balance_notice("evt-1", 4800, 5000, AT)
    [notice] = account.collect_events()
    assert isinstance(notice, LowBalanceNoticeRequested)
    assert (notice.notice_id, notice.balance, notice.threshold) == ("evt-1", 4800, 5000)
    assert notice.occurred_at == AT
    assert account.last_low_balance_notice == "evt-1"


def test_the_same_wallet_event_again_records_nothing_and_another_records_again() -> None:
    account = an_account()
    account.request_low_balance_notice("evt-1", 4800, 5000, AT)
    account.request_low_balance_notice("evt-1", 4800, 5000, AT)
    assert len(account.collect_events()) == 1
    account.request_low_balance_notice("evt-2", 100, 5000, AT)
    assert [e.notice_id for e in account.collect_events()] == ["evt-2"]


def test_a_low_balance_notice_publishes_no_integration_event() -> None:
    account = an_account()
    account.request_low_balance_notice("evt-1", 4800, 5000, AT)
    [notice] = account.collect_events()
    assert to_integration(notice) == []


def test_the_mail_shows_both_amounts_in_yen_and_the_time_in_japan() -> None:
    account = an_account()
    account.request_low_balance_notice("evt-1", 1234567, 2000000, AT)
    [notice] = account.collect_events()
    mail = low_balance_mail(account, notice, "https://pbx.example.jp/login", str(uuid4()))
    assert mail.to == "taro@example.co.jp"
    assert mail.subject == LOW_BALANCE_SUBJECT
    assert "残高: 1,234,567円（通知設定額: 2,000,000円）" in mail.body
    assert "2026年4月2日 00:05 時点" in mail.body
    assert "チャージ" in mail.body
    assert yen(0) == "0円"
