"""The screening number (SPEC §2.2.1) and an individual's 送付先 (§2.2) over HTTP.

Any valid number is accepted as the screening number; one that is not a Japanese fixed
line answers with the warning ``fixed_line_recommended`` and AccountRegistered says so.
An individual's own shipping address is kept; a ◆ section sent for an individual is
refused (``not_for_individuals``) and nothing is stored.

Runs on the in-process bus and on real PostgreSQL + RabbitMQ; ``identity_system``
comes from conftest.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

REGISTERED = "identity.AccountRegistered.v1"
SHIPPING = "identity.ShippingAddressChanged.v1"

SAPPORO_HOME = {
    "same_as_contractor": False,
    "name": "山田 花子",
    "name_kana": "ヤマダ ハナコ",
    "postal_code": "060-0001",
    "prefecture": "北海道",
    "city": "札幌市中央区",
    "city_kana": "サッポロシチュウオウク",
    "street": "北一条西2-1",
    "street_kana": "キタイチジョウニシ2-1",
    "phone": "090-1234-5678",
}
OSAKA_FLAT = {
    **SAPPORO_HOME,
    "postal_code": "530-0001",
    "prefecture": "大阪府",
    "city": "大阪市北区",
    "city_kana": "オオサカシキタク",
    "street": "梅田1-1-3",
    "street_kana": "ウメダ1-1-3",
}


def payload(message: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(message.body)
    return body


def codes(response: Any) -> set[tuple[str, str]]:
    return {(w["field"], w["code"]) for w in response.json()["warnings"]}


@pytest.mark.parametrize(
    ("phone", "e164"),
    [("090-1234-5678", "+819012345678"), ("050-1234-5678", "+815012345678")],
)
async def test_a_mobile_only_individual_registers_with_the_warning(
    identity_system: Any, phone: str, e164: str
) -> None:
    s = identity_system
    body = s.registration()
    body["contractor"]["phone"] = phone
    validated = await s.client.post("/accounts/validate", json=body)
    assert validated.status_code == 200, validated.text
    assert codes(validated) == {("contractor.phone", "fixed_line_recommended")}

    response = await s.client.post("/accounts", json=body)
    assert response.status_code == 201, response.text
    [warning] = response.json()["warnings"]
    assert warning["code"] == "fixed_line_recommended"
    assert "固定電話" in warning["message"]
    [registered] = await s.wait_for(REGISTERED, 1)
    assert payload(registered)["screening_phone_is_fixed_line"] is False

    tokens = await s.tokens(response.json()["login_id"], body["password"])
    me = (await s.me(tokens["access_token"])).json()
    assert me["contractor"]["phone_e164"] == e164


async def test_an_overseas_customer_registers_with_a_plus_number(identity_system: Any) -> None:
    s = identity_system
    body = s.registration()
    body["contractor"].update(phone="+1 212-555-1234", postal_code="00000000", prefecture="海外")
    response = await s.client.post("/accounts", json=body)
    assert response.status_code == 201, response.text
    assert codes(response) == {("contractor.phone", "fixed_line_recommended")}
    [registered] = await s.wait_for(REGISTERED, 1)
    assert payload(registered)["screening_phone_is_fixed_line"] is False
    tokens = await s.tokens(response.json()["login_id"], body["password"])
    me = (await s.me(tokens["access_token"])).json()
    assert me["contractor"]["phone_e164"] == "+12125551234"
    assert me["contractor"]["phone"] == "+1 212-555-1234"


async def test_a_corporation_with_a_mobile_is_warned_and_reported_as_no_fixed_line(
    identity_system: Any,
) -> None:
    s = identity_system
    fixed = await s.client.post("/accounts", json=s.corporate_registration())
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["warnings"] == []
    mobile_body = s.corporate_registration()
    mobile_body["contractor"]["phone"] = "080-1234-5678"
    mobile = await s.client.post("/accounts", json=mobile_body)
    assert mobile.status_code == 201, mobile.text
    assert codes(mobile) == {("contractor.phone", "fixed_line_recommended")}

    facts = {
        payload(m)["account_id"]: payload(m)["screening_phone_is_fixed_line"]
        for m in await s.wait_for(REGISTERED, 2)
    }
    assert facts == {fixed.json()["account_id"]: True, mobile.json()["account_id"]: False}


async def test_an_invalid_screening_number_is_still_refused(identity_system: Any) -> None:
    s = identity_system
    body = s.registration()
    body["contractor"]["phone"] = "+1 212-555"
    response = await s.client.post("/accounts", json=body)
    assert response.status_code == 422, response.text
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("contractor.phone", "invalid_phone")
    ]
    await asyncio.sleep(0.3)
    assert s.events(REGISTERED) == []  # nothing stored, nothing published


async def test_the_account_page_accepts_a_mobile_with_the_warning(identity_system: Any) -> None:
    s = identity_system
    customer = await s.customer()
    response = await s.client.patch(
        "/accounts/me", json={"contractor": {"phone": "090-8765-4321"}}, headers=customer.headers
    )
    assert response.status_code == 200, response.text
    assert codes(response) == {("contractor.phone", "fixed_line_recommended")}
    assert response.json()["contractor"]["phone_e164"] == "+819087654321"
    back = await s.client.patch(
        "/accounts/me", json={"contractor": {"phone": "03-1234-5678"}}, headers=customer.headers
    )
    assert back.status_code == 200, back.text
    assert back.json()["warnings"] == []


async def test_an_individuals_own_shipping_address_survives_registration_and_a_change(
    identity_system: Any,
) -> None:
    s = identity_system
    customer = await s.customer(s.registration(shipping_address=SAPPORO_HOME))
    shown = (await s.me(customer.access_token)).json()["shipping_address"]
    assert shown["same_as_contractor"] is False
    assert (shown["name"], shown["postal_code"], shown["prefecture"]) == (
        "山田 花子",
        "0600001",
        "北海道",
    )
    assert shown["phone_e164"] == "+819012345678"
    [registered] = await s.wait_for(SHIPPING, 1)
    assert payload(registered)["same_as_contractor"] is False
    assert payload(registered)["address"]["postal_code"] == "0600001"

    # another section's change keeps it
    contractor = await s.client.patch(
        "/accounts/me", json={"contractor": {"city": "江東区青海"}}, headers=customer.headers
    )
    assert contractor.status_code == 200, contractor.text
    assert contractor.json()["shipping_address"] == shown

    changed = await s.client.patch(
        "/accounts/me", json={"shipping_address": OSAKA_FLAT}, headers=customer.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["shipping_address"]["postal_code"] == "5300001"
    assert (await s.me(customer.access_token)).json()["shipping_address"]["prefecture"] == "大阪府"
    messages = await s.wait_for(SHIPPING, 2)
    assert len(messages) == 2
    assert payload(messages[1])["same_as_contractor"] is False
    assert payload(messages[1])["address"]["prefecture_code"] == "27"


@pytest.mark.parametrize(
    ("section", "value"),
    [
        ("representative", {"name": "山田 一郎", "name_kana": "ヤマダ イチロウ"}),
        ("usage_contact", {"same_as_contractor": False, "name": "佐藤 花子"}),
        ("billing_contact", {"same_as_contractor": True, "email": "bill@example.co.jp"}),
    ],
)
async def test_a_corporate_only_section_for_an_individual_is_refused_and_nothing_stored(
    identity_system: Any, section: str, value: dict[str, Any]
) -> None:
    s = identity_system
    response = await s.client.post("/accounts", json=s.registration(**{section: value}))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["field"], error["code"]) == (section, "not_for_individuals")
    assert "法人" in error["message"]
    await asyncio.sleep(0.3)
    assert s.events(REGISTERED) == []  # nothing stored, nothing published

    customer = await s.customer()
    before = (await s.me(customer.access_token)).json()
    patched = await s.client.patch("/accounts/me", json={section: value}, headers=customer.headers)
    assert patched.status_code == 422, patched.text
    assert [(e["field"], e["code"]) for e in patched.json()["errors"]] == [
        (section, "not_for_individuals")
    ]
    assert (await s.me(customer.access_token)).json() == before
