"""Events stored by earlier releases still load: every aggregate's event classes keep
their topics (``module:Class.Event``) and attribute names, and replaying the stored
events gives the state the current code gives. ``data/identity_stored_events.json``
holds events as the store wrote them before the aggregates declared their event
classes; it must never be regenerated from a changed aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from pbx_identity.domain.account import Account, EmailClaim, LoginIdClaim
from pbx_identity.domain.reminder import PasswordReminder
from pbx_identity.domain.session import Session
from pbx_identity.domain.staff import StaffMember
from pbx_kit.testing_stored_events import (
    assert_fixture_replays_to_todays_state,
    assert_round_trip_through_the_store,
    assert_topics_and_attributes_unchanged,
    write_fixture,
)

FIXTURE = Path(__file__).parent / "data" / "identity_stored_events.json"
NOW = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
ACCOUNT_ID = UUID("00000000-0000-4000-8000-000000000001")

CONTRACTOR: dict[str, Any] = {
    "name": "山田 太郎",
    "name_kana": "ヤマダ タロウ",
    "postal_code": "1000001",
    "prefecture_code": "13",
    "city": "千代田区",
    "city_kana": "チヨダク",
    "street": "千代田1-1",
    "street_kana": "チヨダ1-1",
    "phone_e164": "+81312345678",
    "email": "taro@example.co.jp",
}
SHIPPING: dict[str, Any] = {**CONTRACTOR, "city": "港区", "city_kana": "ミナトク"}
del SHIPPING["email"]


def scenario() -> list[Aggregate]:
    """Aggregates that have recorded every kind of event the identity domain has."""
    account = Account(
        login_id="PBX12345678",
        contractor_type="individual",
        contractor=dict(CONTRACTOR),
        representative=None,
        usage_contact=None,
        billing_contact=None,
        shipping_address=None,
        agency_code="AG001",
        payment_method="prepaid",
        terms={"terms_of_service": "2026-01"},
        email_domain_class="business",
        password_hash="hash-1",
    )
    account.rehash_password("hash-2")
    account.change_info(
        {**CONTRACTOR, "city": "中央区"}, None, {"name": "担当 花子"}, None, "business"
    )
    account.change_shipping_address(dict(SHIPPING))
    account.request_email_change("c1", "new@example.jp", "hash-c1", NOW + timedelta(hours=24))
    account.confirm_email_change("c1", "hash-c1", NOW, "free")
    account.request_email_change("c2", "third@example.jp", "hash-c2", NOW + timedelta(hours=24))
    account.change_password("hash-3", reason="reset")  # also cancels the pending change
    account.add_circle("circle-1", "営業部", "鈴木", "2026-04-01")
    account.cancel_circle("circle-1", "2026-05-01")
    account.end_all_sessions()
    account.request_low_balance_notice("n1", 500, 1000, NOW)
    account.request_screening_decision_notice(
        "s1", "rejected", str(ACCOUNT_ID), 2, NOW, None, ["document_unreadable"]
    )
    # issue 14: services in circles and the order notices
    account.add_circle("circle-2", "開発部", "田中", "2026-04-02")
    account.activate_service(
        "circle-2", "service-1", "phone_number", "NUMBER-03", "03番号", "+81312345678", "2026-04-02"
    )
    account.cancel_service("circle-2", "service-1", "2026-05-01")
    account.request_order_confirmation_notice(
        "o1",
        "order-1",
        [
            {
                "line_no": 1,
                "sku": "SPA-504G",
                "name": "Cisco SPA504G",
                "billing_kind": "one_time",
                "unit_price": 12000,
                "prorated_unit_price": None,
                "quantity": 2,
                "amount": 24000,
            }
        ],
        24000,
        2400,
        26400,
        dict(SHIPPING),
        NOW,
    )
    account.request_dispatch_notice("o2", "order-1", "yamato", "1234-5678-9012", NOW)
    account.request_checkout_rejection_notice("o3", "order-2", "insufficient_funds", "", NOW)
    email_claim = EmailClaim(email_key="key-1", account_id=ACCOUNT_ID)
    email_claim.release()
    email_claim.claim(UUID("00000000-0000-4000-8000-000000000002"))
    login_claim = LoginIdClaim(login_id="PBX12345678", account_id=ACCOUNT_ID)
    reminder = PasswordReminder("PBX12345678")
    reminder.request("r1", "hash-r1", NOW + timedelta(minutes=30), NOW)
    reminder.use("r1", "hash-r1", NOW)
    session = Session(str(ACCOUNT_ID), "hash-s1", NOW + timedelta(days=30), 1)
    session.refresh("hash-s1", "hash-s2", NOW + timedelta(days=30), NOW, 1)
    session.end("logout")
    staff = StaffMember("REVIEWER1", "審査 一郎", ["reviewer"], "hash-a")
    staff.rehash_password("hash-b")
    staff.end_all_sessions()
    return [account, email_claim, login_claim, reminder, session, staff]


# -- the checks (pbx_kit.testing_stored_events, shared by every service) -----------


def test_the_events_keep_their_topics_and_attribute_names() -> None:
    assert_topics_and_attributes_unchanged(FIXTURE, scenario)


def test_events_stored_by_an_earlier_release_replay_to_the_same_state() -> None:
    assert_fixture_replays_to_todays_state(FIXTURE, scenario)


def test_an_aggregate_saved_in_the_store_loads_back_the_same() -> None:
    assert_round_trip_through_the_store(scenario)


if __name__ == "__main__":  # writes the fixture: only ever from the released aggregates
    write_fixture(FIXTURE, scenario)
