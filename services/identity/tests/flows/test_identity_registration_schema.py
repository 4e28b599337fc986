"""The served OpenAPI documents the registration limits that POST /accounts enforces, the
``step`` refusal has one message, and a "different from the contractor" section without
its own fields is refused over HTTP naming each missing field."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.validation.registration import validate_registration


@pytest.fixture
def http(served_identity: tuple[httpx.AsyncClient, Any]) -> httpx.AsyncClient:
    return served_identity[0]


def example() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(REGISTRATION_EXAMPLE))
    return body


def corporation() -> dict[str, Any]:
    body = example()
    body["contractor_type"] = "corporation"
    body["contractor"]["email"] = body["contractor"]["email_confirmation"] = "info@example.co.jp"
    body["representative"] = {"name": "代表 花子", "name_kana": "ダイヒョウ ハナコ"}
    return body


@pytest.mark.parametrize("stack_kind", ["memory"])
async def test_the_documented_agency_code_limit_is_the_enforced_one(
    http: httpx.AsyncClient,
) -> None:
    schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
    [limit] = [
        o["maxLength"]
        for o in schemas["RegistrationIn"]["properties"]["agency_code"]["anyOf"]
        if "maxLength" in o
    ]
    assert limit == 20
    at_limit = example()
    at_limit["agency_code"] = "A" * limit
    assert (await http.post("/accounts/validate", json=at_limit)).status_code == 200
    over = example()
    over["agency_code"] = "A" * (limit + 1)
    response = await http.post("/accounts/validate", json=over)
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("agency_code", "invalid_agency_code")
    ]


@pytest.mark.parametrize("stack_kind", ["memory"])
async def test_an_unknown_step_has_the_same_message_over_http_and_in_the_rules(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/accounts/validate", json={**example(), "step": "payment"})
    assert response.status_code == 422
    _, errors = validate_registration(example(), step="payment")
    assert response.json()["errors"] == [
        {"field": e.field, "code": e.code, "message": e.message} for e in errors
    ]


@pytest.mark.parametrize("stack_kind", ["memory"])
@pytest.mark.parametrize(
    ("section", "fields"),
    [
        ("usage_contact", ["name", "name_kana", "email", "phone"]),
        ("billing_contact", ["name", "name_kana", "email", "phone"]),
        (
            "shipping_address",
            [
                "name",
                "name_kana",
                "postal_code",
                "prefecture",
                "city",
                "city_kana",
                "street",
                "street_kana",
                "phone",
            ],
        ),
    ],
)
async def test_a_section_different_from_the_contractor_needs_its_own_fields(
    http: httpx.AsyncClient, section: str, fields: list[str]
) -> None:
    body = corporation()
    body[section] = {"same_as_contractor": False}
    for path in ("/accounts", "/accounts/validate"):
        response = await http.post(path, json=body)
        assert response.status_code == 422, response.text
        assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
            (f"{section}.{f}", "required") for f in fields
        ]
