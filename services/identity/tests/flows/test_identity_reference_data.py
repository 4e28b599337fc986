"""Reference data for the forms, served so a gateway hard-codes none: prefectures, the
terms to accept (texts and versions) and the postal code lookup (郵便番号から住所入力).
Public, read-only, on the in-process stack (no state involved)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pbx_identity.api import REGISTRATION_EXAMPLE

pytestmark = pytest.mark.parametrize("stack_kind", ["memory"])


@pytest.fixture
def http(served_identity: tuple[httpx.AsyncClient, Any]) -> httpx.AsyncClient:
    return served_identity[0]


async def test_the_prefectures_in_pull_down_order(http: httpx.AsyncClient) -> None:
    response = await http.get("/reference/prefectures")
    assert response.status_code == 200, response.text
    prefectures = response.json()
    assert len(prefectures) == 48
    assert prefectures[0] == {"code": "01", "name": "北海道"}
    assert prefectures[12] == {"code": "13", "name": "東京都"}
    assert prefectures[-1] == {"code": "99", "name": "海外"}


async def test_the_terms_to_accept_with_their_versions(http: httpx.AsyncClient) -> None:
    response = await http.get("/reference/terms")
    assert response.status_code == 200, response.text
    by_document = {t["document"]: t for t in response.json()}
    assert set(by_document) == {"privacy_policy", "terms_of_service"}
    assert "個人情報" in by_document["privacy_policy"]["text"]
    assert "約款" in by_document["terms_of_service"]["text"]
    # the version shown is the one a registration accepts
    body = dict(REGISTRATION_EXAMPLE)
    body["terms"] = {
        **REGISTRATION_EXAMPLE["terms"],
        "privacy_policy_version": by_document["privacy_policy"]["version"],
        "terms_of_service_version": by_document["terms_of_service"]["version"],
    }
    checked = await http.post("/accounts/validate", json={**body, "step": "terms"})
    assert checked.status_code == 200, checked.text
    assert checked.json()["normalized"]["terms"] == {
        "privacy_policy_version": by_document["privacy_policy"]["version"],
        "terms_of_service_version": by_document["terms_of_service"]["version"],
    }
    versions = await http.get("/reference/terms/versions")
    assert versions.status_code == 200
    assert {(t["document"], t["version"]) for t in response.json()} <= {
        (t["document"], t["version"]) for t in versions.json()
    }


@pytest.mark.parametrize("typed", ["1350064", "135-0064", "１３５－００６４", "〒135-0064"])
async def test_a_postal_code_fills_in_the_address(http: httpx.AsyncClient, typed: str) -> None:
    response = await http.get(f"/reference/postal-codes/{typed}")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["postal_code"] == "1350064"
    [place] = answer["places"]
    assert (place["prefecture_code"], place["prefecture"], place["city"], place["town"]) == (
        "13",
        "東京都",
        "江東区",
        "青海",
    )
    assert (place["city_kana"], place["town_kana"]) == ("コウトウク", "アオミ")


async def test_an_unknown_or_malformed_code_is_a_clear_problem(http: httpx.AsyncClient) -> None:
    unknown = await http.get("/reference/postal-codes/4980800")
    assert unknown.status_code == 404, unknown.text
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["code"] == "postal_code_not_found"
    malformed = await http.get("/reference/postal-codes/12345")
    assert malformed.status_code == 422, malformed.text
    [error] = malformed.json()["errors"]
    assert (error["field"], error["code"]) == ("postal_code", "invalid_postal_code")
    too_long = await http.get("/reference/postal-codes/" + "1" * 40)
    assert too_long.status_code == 422
