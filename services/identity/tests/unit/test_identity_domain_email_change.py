"""An e-mail change on the Account: requested, then applied only with the newest request's
token before it expires, once; dropped by the owner, a password change or "log out
everywhere"; and the mails it causes (the new address gets the link, the old one notices
with the new address masked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pbx_events.identity import AccountInfoChanged
from pbx_identity.domain.account import Account
from pbx_identity.domain.email_change import (
    EmailChangeAlreadyConfirmedError,
    EmailChangeTokenExpiredError,
    InvalidEmailChangeTokenError,
)
from pbx_identity.integration import to_integration
from pbx_identity.mails_email_change import (
    COMPLETED_SUBJECT,
    CONFIRM_SUBJECT,
    REQUESTED_SUBJECT,
    confirm_email_mail,
    email_change_requested_mail,
    email_changed_mail,
)

NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=24)
OLD = "taro@example.co.jp"
NEW = "tanaka.new@example.jp"

Requested = Account.EmailChangeRequested
Confirmed = Account.EmailChangeConfirmed
Cancelled = Account.EmailChangeCancelled
InfoChanged = Account.InfoChanged


def an_account() -> Account:
    account = Account(
        login_id="PBX12345678",
        contractor_type="individual",
        contractor={"name": "山田 太郎", "email": OLD},
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


def requested(account: Account, change_id: str = "c1", email: str = NEW) -> Any:
    account.request_email_change(change_id, email, f"hash-{change_id}", LATER)
    [event] = account.collect_events()
    return event


def test_a_requested_change_leaves_the_address_and_notes_both_addresses() -> None:
    account = an_account()
    event = requested(account)
    assert isinstance(event, Requested)
    assert (event.change_id, event.new_email, event.previous_email) == ("c1", NEW, OLD)
    assert event.token_hash == "hash-c1"
    assert event.expires_at == LATER
    assert account.email == OLD
    assert account.pending_email_change is not None
    assert account.pending_email_change.new_email == NEW
    # nothing for other services until it is confirmed
    assert to_integration(event) == []


def test_the_current_address_cannot_be_requested_as_a_change() -> None:
    account = an_account()
    with pytest.raises(ValueError, match="current"):
        account.request_email_change("c1", OLD.upper(), "h", LATER)
    assert account.collect_events() == []
    assert account.pending_email_change is None


def test_a_valid_token_applies_the_change_once_as_a_contract_info_change() -> None:
    account = an_account()
    requested(account)
    account.confirm_email_change("c1", "hash-c1", NOW, "free")
    confirmed, info = account.collect_events()
    assert isinstance(confirmed, Confirmed)
    assert (confirmed.new_email, confirmed.previous_email) == (NEW, OLD)
    assert isinstance(info, InfoChanged)
    assert info.contractor == {"name": "山田 太郎", "email": NEW}
    assert info.email_domain_class == "free"
    assert account.email == NEW
    assert account.email_domain_class == "free"
    assert account.pending_email_change is None
    # downstream sees the same AccountInfoChanged as for any other change, and only one
    assert to_integration(confirmed) == []
    [published] = to_integration(info)
    assert isinstance(published, AccountInfoChanged)
    assert published.email_domain_class == "free"

    # the same link again: already used, nothing recorded
    with pytest.raises(EmailChangeAlreadyConfirmedError):
        account.confirm_email_change("c1", "hash-c1", NOW, "free")
    assert account.collect_events() == []
    assert account.email == NEW


@pytest.mark.parametrize(
    ("change_id", "token_hash", "now", "expected"),
    [
        ("c1", "wrong", NOW, InvalidEmailChangeTokenError),
        ("c2", "hash-c1", NOW, InvalidEmailChangeTokenError),
        ("c1", "hash-c1", LATER, EmailChangeTokenExpiredError),
        ("c1", "hash-c1", LATER + timedelta(days=3), EmailChangeTokenExpiredError),
        # expiry is told to the holder only
        ("c1", "wrong", LATER, InvalidEmailChangeTokenError),
    ],
)
def test_a_bad_or_expired_token_changes_nothing(
    change_id: str, token_hash: str, now: datetime, expected: type[Exception]
) -> None:
    account = an_account()
    requested(account)
    with pytest.raises(expected):
        account.confirm_email_change(change_id, token_hash, now, "free")
    assert account.collect_events() == []
    assert account.email == OLD
    assert account.pending_email_change is not None


def test_a_newer_request_replaces_the_older_ones_link() -> None:
    account = an_account()
    requested(account, "c1")
    requested(account, "c2", "other@example.jp")
    with pytest.raises(InvalidEmailChangeTokenError):
        account.confirm_email_change("c1", "hash-c1", NOW, "b")
    assert account.collect_events() == []
    account.confirm_email_change("c2", "hash-c2", NOW, "b")
    assert account.email == "other@example.jp"


@pytest.mark.parametrize(
    ("drop", "reason"),
    [
        (lambda a: a.cancel_email_change("owner"), "owner"),
        (lambda a: a.change_password("y", reason="reset"), "password_changed"),
        (lambda a: a.end_all_sessions(), "sessions_ended"),
    ],
)
def test_a_pending_change_is_dropped_by_the_owner_a_new_password_or_logging_out_everywhere(
    drop: Any, reason: str
) -> None:
    account = an_account()
    requested(account)
    drop(account)
    cancelled = account.collect_events()[-1]
    assert isinstance(cancelled, Cancelled)
    assert (cancelled.change_id, cancelled.reason) == ("c1", reason)
    assert account.pending_email_change is None
    with pytest.raises(InvalidEmailChangeTokenError):
        account.confirm_email_change("c1", "hash-c1", NOW, "b")
    assert account.collect_events() == []
    assert account.email == OLD


def test_without_a_pending_change_nothing_is_cancelled() -> None:
    account = an_account()
    assert account.cancel_email_change("owner") is False
    account.change_password("y", reason="reset")
    account.end_all_sessions()
    assert not [e for e in account.collect_events() if isinstance(e, Cancelled)]


def test_an_account_replayed_from_its_events_has_the_same_pending_and_applied_changes() -> None:
    account = Account(
        login_id="PBX12345678",
        contractor_type="individual",
        contractor={"name": "山田 太郎", "email": OLD},
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
    account.request_email_change("c1", NEW, "hash-c1", LATER)
    account.confirm_email_change("c1", "hash-c1", NOW, "free")
    account.request_email_change("c2", "third@example.jp", "hash-c2", LATER)
    replayed: Any = None
    for event in account.collect_events():
        replayed = event.mutate(replayed)
    assert replayed.email == NEW
    assert replayed.pending_email_change == account.pending_email_change
    with pytest.raises(EmailChangeAlreadyConfirmedError):
        replayed.confirm_email_change("c1", "hash-c1", NOW, "b")


def test_the_new_address_gets_the_link_without_the_customers_name_or_login_id() -> None:
    account = an_account()
    event = requested(account)
    mail = confirm_email_mail(event, "tok.en-1", "https://portal.example.jp/email-confirmation")
    assert mail.to == NEW
    assert mail.subject == CONFIRM_SUBJECT
    assert "https://portal.example.jp/email-confirmation?token=tok.en-1\n" in mail.body
    assert "24時間" in mail.body
    assert "山田" not in mail.body
    assert account.login_id not in mail.body
    assert OLD not in mail.body
    with_query = confirm_email_mail(event, "t", "https://portal.example.jp/c?lang=ja")
    assert "https://portal.example.jp/c?lang=ja&token=t\n" in with_query.body


def test_the_old_address_is_told_of_the_request_and_the_change_with_the_new_one_masked() -> None:
    account = an_account()
    event = requested(account)
    notice = email_change_requested_mail(account, event, "https://portal.example.jp/login")
    assert notice.to == OLD
    assert notice.subject == REQUESTED_SUBJECT
    assert "ta***@example.jp" in notice.body
    assert NEW not in notice.body
    at = event.timestamp.astimezone(ZoneInfo("Asia/Tokyo"))  # when it was asked, in Japan
    assert f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}" in notice.body
    assert "パスワード" in notice.body  # how to stop it
    assert "https://portal.example.jp/login" in notice.body
    assert notice.message_id != confirm_email_mail(event, "t", "u").message_id

    account.confirm_email_change("c1", "hash-c1", NOW, "free")
    confirmed, _info = account.collect_events()
    done = email_changed_mail(account, confirmed)
    assert done.to == OLD
    assert done.subject == COMPLETED_SUBJECT
    assert "ta***@example.jp" in done.body
    assert NEW not in done.body
