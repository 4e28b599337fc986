"""The confirmation screen (入力内容の確認) is built from ``POST /accounts/validate``: each
step's answer carries the values as they will be stored (widths and kana folded, the
prefecture's name and code, phones in national and E.164 form), with its warnings, and
stores nothing. The account page then shows the same values."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pbx_identity.api import REGISTRATION_EXAMPLE

pytestmark = pytest.mark.parametrize("stack_kind", ["memory"])


@pytest.fixture
def client(served_identity: tuple[httpx.AsyncClient, Any]) -> tuple[httpx.AsyncClient, Any]:
    return served_identity


def typed_by_hand() -> dict[str, Any]:
    """What a customer types: full-width digits, half-width kana, a hyphenated code."""
    body: dict[str, Any] = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    contractor = body["contractor"]
    contractor["postal_code"] = "１３５－００６４"
    contractor["name_kana"] = "ﾔﾏﾀﾞ ﾀﾛｳ"
    contractor["street"] = "青海２－７－４"
    contractor["phone"] = "０３（１２３４）５６７８"
    contractor["email"] = contractor["email_confirmation"] = "Taro@Example.co.jp"
    body["shipping_address"] = {
        "same_as_contractor": False,
        "name": "山田 花子",
        "name_kana": "ヤマダ ハナコ",
        "postal_code": "530-0001",
        "prefecture": "大阪府",
        "city": "大阪市北区",
        "city_kana": "オオサカシキタク",
        "street": "梅田1-1-1",
        "street_kana": "ウメダ1-1-1",
        "phone": "090-1111-2222",
    }
    return body


async def test_the_customer_info_step_returns_what_will_be_stored(
    client: tuple[httpx.AsyncClient, Any],
) -> None:
    http, app = client
    body = {**typed_by_hand(), "step": "customer_info"}
    body.pop("terms")
    response = await http.post("/accounts/validate", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["step"] == "customer_info"
    shown = answer["normalized"]
    assert shown["terms"] is None
    assert (shown["contractor_type"], shown["payment_method"]) == ("individual", "prepaid")
    contractor = shown["contractor"]
    assert contractor["postal_code"] == "1350064"
    assert (contractor["prefecture"], contractor["prefecture_code"]) == ("東京都", "13")
    assert contractor["name_kana"] == "ヤマダ\u3000タロウ"
    assert contractor["street"] == "青海２－７－４"  # an address is kept as written
    assert (contractor["phone"], contractor["phone_e164"]) == ("03-1234-5678", "+81312345678")
    assert "password" not in json.dumps(shown) and "email_confirmation" not in contractor
    shipping = shown["shipping_address"]
    assert shipping["same_as_contractor"] is False
    assert (shipping["prefecture"], shipping["name_kana"]) == ("大阪府", "ヤマダ\u3000ハナコ")
    assert shown["usage_contact"] == {"same_as_contractor": True}
    assert shown["representative"] is None
    assert answer["warnings"] == []
    assert app.max_notification_id() == 0


async def test_the_customer_info_step_says_its_warnings(
    client: tuple[httpx.AsyncClient, Any],
) -> None:
    http, _ = client
    body = {**typed_by_hand(), "step": "customer_info"}
    body["contractor"]["prefecture"] = "大阪府"  # 135-0064 is in Tokyo
    body["contractor"]["phone"] = "090-1234-5678"
    response = await http.post("/accounts/validate", json=body)
    assert response.status_code == 200, response.text
    assert {(w["field"], w["code"]) for w in response.json()["warnings"]} == {
        ("contractor.postal_code", "postal_code_prefecture_mismatch"),
        ("contractor.phone", "fixed_line_recommended"),
    }


async def test_the_terms_step_returns_the_accepted_versions(
    client: tuple[httpx.AsyncClient, Any],
) -> None:
    http, _ = client
    response = await http.post(
        "/accounts/validate", json={"step": "terms", "terms": REGISTRATION_EXAMPLE["terms"]}
    )
    assert response.status_code == 200, response.text
    shown = response.json()["normalized"]
    assert shown["terms"]["privacy_policy_version"]
    assert shown["terms"]["terms_of_service_version"]
    assert shown["contractor"] is None


async def test_the_whole_body_shows_what_the_account_page_will_show(
    client: tuple[httpx.AsyncClient, Any],
) -> None:
    http, _ = client
    body = typed_by_hand()
    checked = await http.post("/accounts/validate", json=body)
    assert checked.status_code == 200, checked.text
    shown = checked.json()["normalized"]
    registered = await http.post("/accounts", json=body)
    assert registered.status_code == 201, registered.text
    login = await http.post(
        "/auth/token",
        json={"login_id": registered.json()["login_id"], "password": body["password"]},
    )
    token = login.json()["access_token"]
    page = (await http.get("/accounts/me", headers={"Authorization": f"Bearer {token}"})).json()
    for section in ("contractor", "shipping_address", "usage_contact", "billing_contact"):
        assert shown[section] == page[section], section
    assert shown["contractor"]["email"] == "Taro@example.co.jp"  # the domain folds
