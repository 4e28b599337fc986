"""One declaration per registration field: what the OpenAPI documents is what is enforced."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import BaseModel

from pbx_identity.validation.registration import validate_contract_info, validate_registration
from pbx_identity.validation.schema import (
    INVALID_STEP_MESSAGE,
    ContactIn,
    ContractorIn,
    PersonIn,
    RegistrationDraftIn,
    RegistrationIn,
    ShippingAddressIn,
    TermsIn,
)
from pbx_kit.jp.body import max_length_of

CONTACT_FIELDS = ["name", "name_kana", "email", "phone"]
SHIPPING_FIELDS = [
    "name",
    "name_kana",
    "postal_code",
    "prefecture",
    "city",
    "city_kana",
    "street",
    "street_kana",
    "phone",
]


def a_corporation() -> dict[str, Any]:
    return {
        "terms": {"privacy_policy_accepted": True, "terms_of_service_accepted": True},
        "password": "Ky7#mPz!qR",
        "password_confirmation": "Ky7#mPz!qR",
        "payment_method": "prepaid",
        "contractor_type": "corporation",
        "contractor": {
            "name": "株式会社パシフィック通信",
            "name_kana": "カブシキガイシャ パシフィックツウシン",
            "postal_code": "1350064",
            "prefecture": "東京都",
            "city": "江東区",
            "city_kana": "コウトウク",
            "street": "青海2-7-4",
            "street_kana": "アオミ2-7-4",
            "email": "info@pacific-tsushin.co.jp",
            "email_confirmation": "info@pacific-tsushin.co.jp",
            "phone": "03-1234-5678",
        },
        "representative": {"name": "海野 一郎", "name_kana": "ウミノ イチロウ"},
        "usage_contact": {"same_as_contractor": True},
        "billing_contact": {"same_as_contractor": True},
        "shipping_address": {"same_as_contractor": True},
    }


def _text_fields(model: type[BaseModel]) -> list[tuple[str, int]]:
    return [
        (key, limit)
        for key, info in model.model_fields.items()
        if (limit := max_length_of(info)) is not None
    ]


def _paths_with_limits() -> list[tuple[str, int]]:
    paths = [(f"contractor.{k}", n) for k, n in _text_fields(ContractorIn)]
    paths += [(f"terms.{k}", n) for k, n in _text_fields(TermsIn)]
    paths += [(f"representative.{k}", n) for k, n in _text_fields(PersonIn)]
    paths += [(f"usage_contact.{k}", n) for k, n in _text_fields(ContactIn)]
    paths += [(f"shipping_address.{k}", n) for k, n in _text_fields(ShippingAddressIn)]
    paths += [(k, n) for k, n in _text_fields(RegistrationIn) if k != "password"]
    return paths


def _documented_max_length(schema: dict[str, Any], path: str) -> int:
    defs = schema["$defs"]
    node: dict[str, Any] = schema
    *sections, leaf = path.split(".")
    for section in sections:
        prop = node["properties"][section]
        ref = next(o["$ref"] for o in prop.get("anyOf", [prop]) if "$ref" in o)
        node = defs[ref.rpartition("/")[2]]
    prop = node["properties"][leaf]
    return int(next(o["maxLength"] for o in prop.get("anyOf", [prop]) if "maxLength" in o))


def _with(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    node = body
    for key in parents:
        if node.get(key, {}).get("same_as_contractor") is True:
            node[key] = {"same_as_contractor": False}
        node = node[key]
    node[leaf] = value
    return body


@pytest.mark.parametrize(("path", "limit"), _paths_with_limits())
def test_each_documented_max_length_is_the_enforced_one(path: str, limit: int) -> None:
    assert _documented_max_length(RegistrationIn.model_json_schema(), path) == limit
    _, errors = validate_registration(_with(a_corporation(), path, "A" * (limit + 1)))
    assert path in {e.field for e in errors}


def test_agency_code_is_documented_and_enforced_at_20_characters() -> None:
    schema = RegistrationIn.model_json_schema()
    assert _documented_max_length(schema, "agency_code") == 20
    data, errors = validate_registration(_with(a_corporation(), "agency_code", "A" * 20))
    assert errors == []
    assert data is not None
    assert data.agency_code == "A" * 20
    for too_long in ("A" * 21, "A" * 65):
        _, errors = validate_registration(_with(a_corporation(), "agency_code", too_long))
        assert [(e.field, e.code) for e in errors] == [("agency_code", "invalid_agency_code")]
        assert "20文字以内" in errors[0].message


def test_the_documented_password_limits_are_the_policy() -> None:
    prop = RegistrationIn.model_json_schema()["properties"]["password"]
    assert (prop["minLength"], prop["maxLength"]) == (8, 128)
    for password in ("Ab!defg", "Ab!" + "x" * 126):
        body = _with(
            _with(a_corporation(), "password", password), "password_confirmation", password
        )
        _, errors = validate_registration(body)
        assert [(e.field, e.code) for e in errors] == [("password", "password_policy")]


def test_the_draft_documents_the_same_fields_all_optional() -> None:
    draft = RegistrationDraftIn.model_json_schema()
    assert draft.get("required", []) == []
    assert set(draft["properties"]) == {"step", *RegistrationIn.model_fields}
    assert draft["properties"]["step"]["anyOf"][0]["enum"] == ["terms", "customer_info"]
    assert _documented_max_length(draft, "agency_code") == 20


@pytest.mark.parametrize("step", ["payment", "", 3, ["terms"]])
def test_an_unknown_step_has_the_one_message(step: Any) -> None:
    _, errors = validate_registration(a_corporation(), step=step)
    assert [(e.field, e.code, e.message) for e in errors] == [
        ("step", "invalid_step", INVALID_STEP_MESSAGE)
    ]
    assert INVALID_STEP_MESSAGE == "stepには terms または customer_info を指定してください。"


@pytest.mark.parametrize(
    ("section", "fields", "first_label"),
    [
        ("usage_contact", CONTACT_FIELDS, "使用担当者の氏名を入力してください。"),
        ("billing_contact", CONTACT_FIELDS, "請求担当者の氏名を入力してください。"),
        ("shipping_address", SHIPPING_FIELDS, "送付先の宛名を入力してください。"),
    ],
)
@pytest.mark.parametrize("own", [{}, {"name": None, "phone": "  "}])
def test_different_from_the_contractor_without_own_fields_is_refused_naming_each(
    section: str, fields: list[str], first_label: str, own: dict[str, Any]
) -> None:
    body = a_corporation()
    body[section] = {"same_as_contractor": False, **own}
    data, errors = validate_registration(body)
    assert data is None
    assert [(e.field, e.code) for e in errors] == [(f"{section}.{f}", "required") for f in fields]
    assert errors[0].message == first_label
    info, errors = validate_contract_info(body, "corporation")
    assert info is None
    assert {e.field for e in errors} == {f"{section}.{f}" for f in fields}


def test_the_json_schema_requires_own_fields_when_different() -> None:
    defs = RegistrationIn.model_json_schema()["$defs"]
    for name, fields in (("ContactIn", CONTACT_FIELDS), ("ShippingAddressIn", SHIPPING_FIELDS)):
        assert defs[name]["if"] == {"properties": {"same_as_contractor": {"const": False}}}
        assert defs[name]["then"] == {"required": fields}
