"""The account page end to end (SPEC §2.5): contract info view and change (every §2.2
rule again; changes published as events), the shipping address the cart pre-fills,
e-mail uniqueness, and circles (add, list, cancel) with their events.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pbx_identity.mails_email_change import CONFIRM_SUBJECT

SHIPPING = "identity.ShippingAddressChanged.v1"
INFO = "identity.AccountInfoChanged.v1"
ADDED = "identity.CircleAdded.v1"
CANCELLED = "identity.CircleCancelled.v1"

OSAKA_OFFICE = {
    "same_as_contractor": False,
    "name": "株式会社サンプル 大阪営業所",
    "name_kana": "カブシキガイシャサンプル オオサカエイギョウショ",
    "postal_code": "530-0001",
    "prefecture": "大阪府",
    "city": "大阪市北区",
    "city_kana": "オオサカシキタク",
    "street": "梅田1-1-3",
    "street_kana": "ウメダ1-1-3",
    "phone": "06-6345-6789",
}


def keys_of(value: Any) -> set[str]:
    """Every key in a JSON document, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def payload(message: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message.body)
    return body


async def test_the_account_page_shows_the_contract_but_never_the_password(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    response = await s.me(customer.access_token)
    assert response.status_code == 200, response.text
    assert "argon2" not in response.text
    assert s.PASSWORD not in response.text
    assert not {k for k in keys_of(response.json()) if "password" in k or "hash" in k}
    me = response.json()
    assert me["account_id"] == customer.account_id
    assert me["login_id"] == customer.login_id
    assert me["status"] == "active"
    assert me["contractor_type"] == "individual"
    assert me["payment_method"] == "prepaid"
    contractor = me["contractor"]
    assert contractor["name"] == "山田 太郎"
    assert contractor["name_kana"] == "ヤマダ\u3000タロウ"  # stored normalised (full-width space)
    assert contractor["email"] == customer.email
    assert contractor["postal_code"] == "1350064"
    assert contractor["prefecture"] == "東京都"
    assert contractor["city"] == "江東区"
    assert contractor["phone"] == "03-1234-5678"


async def test_an_invalid_change_is_refused_per_field_and_changes_nothing(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    before = (await s.me(customer.access_token)).json()
    await s.wait_for(SHIPPING, 1, linger=0.2)  # the registration's own

    refused = await s.client.patch(
        "/accounts/me",
        json={"contractor": {"name_kana": "やまだ", "city_kana": "コウトウク"}},
        headers=customer.headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    errors = refused.json()["errors"]
    assert [e["field"] for e in errors] == ["contractor.name_kana"]
    assert errors[0]["code"] == "invalid_kana"
    assert errors[0]["message"]

    # every §2.2 rule applies again: an invalid screening number, a bad postal code
    again = await s.client.patch(
        "/accounts/me",
        json={"contractor": {"postal_code": "0001234", "phone": "090-1234-567"}},
        headers=customer.headers,
    )
    assert again.status_code == 422, again.text
    assert {e["field"] for e in again.json()["errors"]} == {
        "contractor.postal_code",
        "contractor.phone",
    }

    assert (await s.me(customer.access_token)).json() == before
    await s.wait_for(SHIPPING, 1, linger=0.3)
    assert s.events(INFO) == []


async def test_a_corporations_new_shipping_address_is_published_once(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer(s.corporate_registration())
    [registered] = await s.wait_for(SHIPPING, 1)
    assert payload(registered)["same_as_contractor"] is True
    assert payload(registered)["address"]["postal_code"] == "1350064"

    response = await s.client.patch(
        "/accounts/me",
        json={"shipping_address": OSAKA_OFFICE},
        headers={**customer.headers, "X-Correlation-ID": "corr-ship-1"},
    )
    assert response.status_code == 200, response.text
    shown = response.json()["shipping_address"]
    assert shown.get("same_as_contractor", False) is False
    assert shown["name"] == OSAKA_OFFICE["name"]
    assert shown["postal_code"] == "5300001"
    assert shown["prefecture"] == "大阪府"
    assert shown["city"] == "大阪市北区"
    assert (await s.me(customer.access_token)).json()["shipping_address"] == shown

    messages = await s.wait_for(SHIPPING, 2)
    assert len(messages) == 2, [payload(m) for m in messages]
    changed = payload(messages[1])
    assert changed["account_id"] == customer.account_id
    assert changed["same_as_contractor"] is False
    address = changed["address"]
    assert address["name"] == OSAKA_OFFICE["name"]
    assert address["name_kana"] == OSAKA_OFFICE["name_kana"].replace(" ", "\u3000")
    assert address["postal_code"] == "5300001"
    assert address["prefecture_code"] == "27"
    assert address["city"] == "大阪市北区"
    assert address["city_kana"] == "オオサカシキタク"
    assert address["street"] == "梅田1-1-3"
    assert address["phone_e164"] == "+81663456789"
    assert messages[1].correlation_id == "corr-ship-1"
    # the contract info itself did not change: no AccountInfoChanged
    assert s.events(INFO) == []

    # the same address again changes nothing and publishes nothing
    same = await s.client.patch(
        "/accounts/me", json={"shipping_address": OSAKA_OFFICE}, headers=customer.headers
    )
    assert same.status_code == 200, same.text
    assert len(await s.wait_for(SHIPPING, 2)) == 2


async def test_an_email_taken_by_another_account_is_refused(identity_system: Any) -> None:
    s = identity_system
    alice = await s.customer()
    bob = await s.customer()
    before = (await s.me(alice.access_token)).json()

    taken = await s.client.patch(
        "/accounts/me",
        json={"contractor": {"email": bob.email.upper(), "email_confirmation": bob.email.upper()}},
        headers=alice.headers,
    )
    assert taken.status_code == 409, taken.text
    assert taken.headers["content-type"] == "application/problem+json"
    assert taken.json()["code"] == "email_taken"
    assert taken.json()["errors"][0]["field"] == "contractor.email"
    assert (await s.me(alice.access_token)).json() == before

    # a free address is fine once the link mailed to it confirms it, and the old one is
    # free again afterwards
    new_email = f"moved.{alice.login_id.lower()}@example.co.jp"
    moved = await s.client.patch(
        "/accounts/me",
        json={"contractor": {"email": new_email, "email_confirmation": new_email}},
        headers=alice.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["pending_email"] == new_email
    [link] = await s.wait_for_mail(new_email, CONFIRM_SUBJECT)
    confirmed = await s.client.post(
        "/accounts/email-confirmation", json={"token": s.reset_token_in(link)}
    )
    assert confirmed.status_code == 204, confirmed.text
    assert (await s.me(alice.access_token)).json()["contractor"]["email"] == new_email
    [info] = await s.wait_for(INFO, 1)
    assert payload(info)["account_id"] == alice.account_id
    assert new_email not in info.body.decode()  # no personal data on the bus
    reuse = await s.client.post("/accounts", json=s.registration(alice.email))
    assert reuse.status_code == 201, reuse.text
    clash = await s.client.post("/accounts", json=s.registration(new_email))
    assert clash.status_code == 409


async def test_circles_are_added_listed_and_cancelled_with_their_events(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer()
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()

    added = await s.client.post(
        "/accounts/me/circles",
        json={"department_name": "営業部", "staff_name": "佐藤 花子"},
        headers={**customer.headers, "X-Correlation-ID": "corr-circle-add"},
    )
    assert added.status_code == 201, added.text
    circle = added.json()
    assert set(circle) >= {
        "circle_id",
        "department_name",
        "staff_name",
        "applied_on",
        "status",
        "uniques",
    }
    assert circle["department_name"] == "営業部"
    assert circle["staff_name"] == "佐藤 花子"
    assert circle["applied_on"] == today
    assert circle["status"] == "active"
    assert circle["uniques"] == []
    circle_id = circle["circle_id"]

    listed = await s.client.get("/accounts/me/circles", headers=customer.headers)
    assert listed.status_code == 200
    assert [c["circle_id"] for c in listed.json()] == [circle_id]
    assert listed.json()[0]["status"] == "active"

    cancelled = await s.client.delete(
        f"/accounts/me/circles/{circle_id}",
        headers={**customer.headers, "X-Correlation-ID": "corr-circle-cancel"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["circle_id"] == circle_id
    assert cancelled.json()["status"] == "cancelled"
    listed = await s.client.get("/accounts/me/circles", headers=customer.headers)
    assert [(c["circle_id"], c["status"]) for c in listed.json()] == [(circle_id, "cancelled")]

    [add_event] = await s.wait_for(ADDED, 1)
    [cancel_event] = await s.wait_for(CANCELLED, 1)
    assert add_event.correlation_id == "corr-circle-add"
    assert cancel_event.correlation_id == "corr-circle-cancel"
    assert payload(add_event)["account_id"] == customer.account_id
    assert payload(add_event)["circle_id"] == circle_id
    assert payload(add_event)["applied_on"] == today
    assert payload(cancel_event)["account_id"] == customer.account_id
    assert payload(cancel_event)["circle_id"] == circle_id
    assert payload(cancel_event)["cancelled_on"] == today

    # cancelling again is fine (idempotent) and publishes nothing new
    again = await s.client.delete(f"/accounts/me/circles/{circle_id}", headers=customer.headers)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "cancelled"
    assert len(await s.wait_for(CANCELLED, 1, linger=1.0)) == 1
    assert len(s.events(ADDED)) == 1


async def test_a_circle_needs_a_department_and_a_staff_name(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    for body, field, message in (
        ({}, "department_name", "必須項目です。"),
        ({"department_name": "営業部"}, "staff_name", "必須項目です。"),
        (
            {"department_name": "  ", "staff_name": "佐藤"},
            "department_name",
            "空白のみは入力できません。",
        ),
        (
            {"department_name": "営業部", "staff_name": "　"},
            "staff_name",
            "空白のみは入力できません。",
        ),
        (
            {"department_name": "営業部", "staff_name": "x" * 101},
            "staff_name",
            "100文字以内で入力してください。",
        ),
    ):
        response = await s.client.post("/accounts/me/circles", json=body, headers=customer.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        # the specific message, not a generic one
        assert {"field": field, "message": message} in [
            {"field": e["field"], "message": e["message"]} for e in response.json()["errors"]
        ], response.text
    listed = await s.client.get("/accounts/me/circles", headers=customer.headers)
    assert listed.json() == []
