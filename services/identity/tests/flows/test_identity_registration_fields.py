# ruff: noqa: E501 - the rule table reads best one case per line
"""Every field rule over HTTP: 422 problem+json naming the field, the stable code and a
Japanese message, and nothing stored or published."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from pbx_identity.api import REGISTRATION_EXAMPLE

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

Edit = Callable[[dict[str, Any]], None]


def corporation(body: dict[str, Any]) -> None:
    body["contractor_type"] = "corporation"
    body["contractor"]["name"] = "株式会社サンプル"
    body["contractor"]["name_kana"] = "カブシキガイシャサンプル"
    body["representative"] = {"name": "代表 花子", "name_kana": "ダイヒョウ ハナコ"}


def set_path(path: str, value: Any, *, corporate: bool = False) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        if corporate:
            corporation(body)
        *parents, leaf = path.split(".")
        node = body
        for key in parents:
            node = node[key]
        node[leaf] = value

    return edit


def set_email(value: str, *, corporate: bool = False) -> Edit:
    def edit(body: dict[str, Any]) -> None:
        if corporate:
            corporation(body)
        body["contractor"]["email"] = body["contractor"]["email_confirmation"] = value

    return edit


def own(section: str, **fields: Any) -> Edit:
    base = {
        "usage_contact": {
            "name": "利用 一郎",
            "name_kana": "リヨウ イチロウ",
            "email": "ichiro@example.co.jp",
            "phone": "03-1111-2222",
        },
        "shipping_address": {
            "name": "配送 次郎",
            "name_kana": "ハイソウ ジロウ",
            "postal_code": "5300001",
            "prefecture": "大阪府",
            "city": "大阪市北区",
            "city_kana": "オオサカシキタク",
            "street": "梅田1-1-1",
            "street_kana": "ウメダ1-1-1",
            "phone": "06-6123-4567",
        },
    }[section]

    def edit(body: dict[str, Any]) -> None:
        corporation(body)
        body[section] = {"same_as_contractor": False, **base, **fields}

    return edit


CASES: list[tuple[str, Edit, str, str]] = [
    ("terms", set_path("terms.privacy_policy_accepted", False), "terms.privacy_policy_accepted", "terms_not_accepted"),
    ("tos", set_path("terms.terms_of_service_accepted", False), "terms.terms_of_service_accepted", "terms_not_accepted"),
    ("short password", set_path("password", "Ab!defg"), "password", "password_policy"),
    ("no symbol", set_path("password", "Abcdefgh1"), "password", "password_policy"),
    ("common password", set_path("password", "P@ssw0rd!"), "password", "password_policy"),
    ("password mismatch", set_path("password_confirmation", "Ky7#mPz!qX"), "password_confirmation", "password_mismatch"),
    ("payment", set_path("payment_method", "credit_card"), "payment_method", "invalid_payment_method"),
    ("contractor type", set_path("contractor_type", "company"), "contractor_type", "invalid_contractor_type"),
    ("name", set_path("contractor.name", ""), "contractor.name", "required"),
    ("hiragana kana", set_path("contractor.name_kana", "やまだ たろう"), "contractor.name_kana", "invalid_kana"),
    ("kanji kana", set_path("contractor.name_kana", "山田"), "contractor.name_kana", "invalid_kana"),
    ("postal 000", set_path("contractor.postal_code", "0001234"), "contractor.postal_code", "invalid_postal_code"),
    ("postal 6", set_path("contractor.postal_code", "135006"), "contractor.postal_code", "invalid_postal_code"),
    ("prefecture", set_path("contractor.prefecture", "東京"), "contractor.prefecture", "invalid_prefecture"),
    ("city", set_path("contractor.city", ""), "contractor.city", "required"),
    ("city kana", set_path("contractor.city_kana", "こうとうく"), "contractor.city_kana", "invalid_kana"),
    ("street", set_path("contractor.street", ""), "contractor.street", "required"),
    ("street kana", set_path("contractor.street_kana", "あおみ2-7-4"), "contractor.street_kana", "invalid_kana"),
    ("email", set_email("taro@@example"), "contractor.email", "invalid_email"),
    ("email mismatch", set_path("contractor.email_confirmation", "jiro@example.co.jp"), "contractor.email_confirmation", "email_mismatch"),
    ("short screening", set_path("contractor.phone", "090-1234-567"), "contractor.phone", "invalid_phone"),
    ("letters screening", set_path("contractor.phone", "050-1234-abcd"), "contractor.phone", "invalid_phone"),
    ("short foreign screening", set_path("contractor.phone", "+1 212 555"), "contractor.phone", "invalid_phone"),
    ("contact phone", set_path("contractor.contact_phone", "03-1234-567a"), "contractor.contact_phone", "invalid_phone"),
    ("fax", set_path("contractor.fax", "12"), "contractor.fax", "invalid_phone"),
    ("agency code", set_path("agency_code", "<script>"), "agency_code", "invalid_agency_code"),
    ("carrier mail corp", set_email("sales@docomo.ne.jp", corporate=True), "contractor.email", "business_email_required"),
    ("free mail corp", set_email("sales@gmail.com", corporate=True), "contractor.email", "business_email_required"),
    ("no representative", set_path("representative", None, corporate=True), "representative", "representative_required"),
    ("representative kana", set_path("representative.name_kana", "だいひょう", corporate=True), "representative.name_kana", "invalid_kana"),
    ("usage contact phone", own("usage_contact", phone="abc"), "usage_contact.phone", "invalid_phone"),
    ("shipping postal", own("shipping_address", postal_code="53000"), "shipping_address.postal_code", "invalid_postal_code"),
    ("shipping kana", own("shipping_address", name_kana="はいそう"), "shipping_address.name_kana", "invalid_kana"),
]  # fmt: skip


@pytest.fixture
def client(served_identity: tuple[httpx.AsyncClient, Any]) -> tuple[httpx.AsyncClient, Any]:
    return served_identity


@pytest.mark.parametrize("stack_kind", ["memory"])
@pytest.mark.parametrize(("case", "edit", "field", "code"), CASES, ids=[c[0] for c in CASES])
async def test_each_broken_rule_is_refused_with_field_code_and_japanese_message(
    client: tuple[httpx.AsyncClient, Any], case: str, edit: Edit, field: str, code: str
) -> None:
    http, application = client
    body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    edit(body)
    response = await http.post("/accounts", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert JAPANESE.search(problem["detail"])
    matching = [e for e in problem["errors"] if e["field"] == field]
    assert matching, problem["errors"]
    assert matching[0]["code"] == code
    assert JAPANESE.search(matching[0]["message"])
    assert application.max_notification_id() == 0


@pytest.mark.parametrize("stack_kind", ["memory"])
async def test_the_example_body_and_a_corporation_are_accepted(
    client: tuple[httpx.AsyncClient, Any],
) -> None:
    http, application = client
    body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    assert (await http.post("/accounts", json=body)).status_code == 201
    for section in ("usage_contact", "shipping_address"):
        corp = json.loads(json.dumps(REGISTRATION_EXAMPLE))
        own(section)(corp)
        corp["contractor"]["email"] = corp["contractor"]["email_confirmation"] = (
            f"{section}@example.co.jp"
        )
        response = await http.post("/accounts", json=corp)
        assert response.status_code == 201, response.text
    assert application.max_notification_id() > 0


@pytest.mark.parametrize("stack_kind", ["memory"])
async def test_a_postal_code_outside_the_prefecture_warns_but_registers(
    client: tuple[httpx.AsyncClient, Any],
) -> None:
    http, _ = client
    body = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    body["contractor"]["prefecture"] = "大阪府"  # 135-0064 is in Tokyo
    checked = await http.post("/accounts/validate", json=body)
    assert checked.status_code == 200
    assert [w["code"] for w in checked.json()["warnings"]] == ["postal_code_prefecture_mismatch"]
    response = await http.post("/accounts", json=body)
    assert response.status_code == 201
    [warning] = response.json()["warnings"]
    assert warning["field"] == "contractor.postal_code"
    assert JAPANESE.search(warning["message"])
    matching = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    matching["contractor"]["email"] = matching["contractor"]["email_confirmation"] = (
        "m@example.co.jp"
    )
    assert (await http.post("/accounts", json=matching)).json()["warnings"] == []
