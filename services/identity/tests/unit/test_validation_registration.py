"""The whole registration body: all errors collected with dotted paths, never an exception."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbx_identity.validation.model import (
    CURRENT_TERMS_VERSION,
    Contact,
    Representative,
    ShippingAddress,
)
from pbx_identity.validation.registration import validate_registration

FW_SPACE = "\u3000"


def an_individual() -> dict[str, Any]:
    return {
        "terms": {"privacy_policy_accepted": True, "terms_of_service_accepted": True},
        "password": "Ky7#mPz!qR",
        "password_confirmation": "Ky7#mPz!qR",
        "payment_method": "prepaid",
        "contractor_type": "individual",
        "contractor": {
            "name": " 山田 太郎 ",
            "name_kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
            "postal_code": "135-0064",
            "prefecture": "東京都",
            "city": "江東区",
            "city_kana": "コウトウク",
            "street": "青海２－７－４",
            "street_kana": "アオミ２－７－４",
            "email": "taro@example.co.jp",
            "email_confirmation": "taro@Example.co.jp",
            "phone": "０３－１２３４－５６７８",
            "contact_phone": None,
            "fax": None,
        },
        "representative": None,
        "usage_contact": {"same_as_contractor": True},
        "billing_contact": {"same_as_contractor": True},
        "shipping_address": {"same_as_contractor": True},
        "agency_code": None,
    }


def a_corporation(contractor_type: str = "corporation") -> dict[str, Any]:
    body = an_individual()
    body["contractor_type"] = contractor_type
    body["contractor"].update(
        name="株式会社パシフィック通信",
        name_kana="カブシキガイシャ パシフィックツウシン",
        email="info@pacific-tsushin.co.jp",
        email_confirmation="info@pacific-tsushin.co.jp",
    )
    if contractor_type != "individual":  # ◆: an individual's would be refused
        body["representative"] = {"name": "海野 一郎", "name_kana": "ウミノ イチロウ"}
    return body


def errors_of(body: Any, step: str | None = None) -> set[tuple[str, str]]:
    data, errors = validate_registration(body, step=step)
    assert data is None
    assert all(e.message for e in errors)
    return {(e.field, e.code) for e in errors}


def with_value(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    if value is _MISSING:
        del target[leaf]
    else:
        target[leaf] = value
    return body


_MISSING = object()


def test_individual_registration_is_normalised() -> None:
    data, errors = validate_registration(an_individual())
    assert errors == []
    assert data is not None
    c = data.contractor
    assert c.name == "山田 太郎"  # trimmed, never otherwise altered
    assert c.name_kana == f"ヤマダ{FW_SPACE}タロウ"
    assert (c.postal_code, c.prefecture_code) == ("1350064", "13")
    assert c.street == "青海２－７－４"  # a street is not folded: only its furigana is
    assert c.street_kana == "アオミ2-7-4"
    assert c.email == "taro@example.co.jp"
    assert c.phone_e164 == "+81312345678"
    assert (c.contact_phone_e164, c.fax_e164) == (None, None)
    assert data.terms.privacy_policy_version == CURRENT_TERMS_VERSION
    assert data.terms.terms_of_service_version == CURRENT_TERMS_VERSION
    assert data.password == "Ky7#mPz!qR"
    assert data.payment_method == "prepaid"
    assert (data.representative, data.usage_contact, data.billing_contact) == (None, None, None)
    assert (data.shipping_address, data.agency_code) == (None, None)


def test_password_never_shows_in_the_repr() -> None:
    data, _ = validate_registration(an_individual())
    assert "Ky7#mPz!qR" not in repr(data)


@pytest.mark.parametrize("contractor_type", ["corporation", "telemarketing"])
def test_business_registration_keeps_its_representative(contractor_type: str) -> None:
    data, errors = validate_registration(a_corporation(contractor_type))
    assert errors == []
    assert data is not None
    assert data.contractor_type == contractor_type
    assert data.representative == Representative("海野 一郎", f"ウミノ{FW_SPACE}イチロウ")


@pytest.mark.parametrize("contractor_type", ["corporation", "telemarketing"])
@pytest.mark.parametrize("representative", [None, _MISSING])
def test_business_without_representative_is_refused(
    contractor_type: str, representative: object
) -> None:
    body = with_value(a_corporation(contractor_type), "representative", representative)
    assert errors_of(body) == {("representative", "representative_required")}


def test_representative_fields_are_validated() -> None:
    body = with_value(a_corporation(), "representative", {"name": "", "name_kana": "うみの"})
    assert errors_of(body) == {
        ("representative.name", "required"),
        ("representative.name_kana", "invalid_kana"),
    }


@pytest.mark.parametrize(
    "representative", [{"name": "山田 花子", "name_kana": "ヤマダ ハナコ"}, {}, "x"]
)
def test_individual_representative_is_refused_not_dropped(representative: object) -> None:
    # SPEC §2.2: ◆ sections are for non-individuals; input is never dropped silently
    body = with_value(an_individual(), "representative", representative)
    data, errors = validate_registration(body)
    assert data is None
    assert [(e.field, e.code) for e in errors] == [("representative", "not_for_individuals")]
    assert "法人" in errors[0].message


@pytest.mark.parametrize(
    "email",
    ["taro@docomo.ne.jp", "taro@ezweb.ne.jp", "taro@gmail.com", "taro@yahoo.co.jp"],
)
@pytest.mark.parametrize(
    ("contractor_type", "refused"),
    [("corporation", True), ("telemarketing", True), ("individual", False)],
)
def test_free_and_carrier_mail_is_refused_for_businesses_only(
    email: str, contractor_type: str, refused: bool
) -> None:
    body = a_corporation(contractor_type)
    body["contractor"].update(email=email, email_confirmation=email)
    data, errors = validate_registration(body)
    if refused:
        assert {(e.field, e.code) for e in errors} == {
            ("contractor.email", "business_email_required")
        }
    else:
        assert errors == []
        assert data is not None
        assert data.contractor.email == email


@pytest.mark.parametrize("contractor_type", ["corporation", "telemarketing", "individual"])
def test_company_domain_is_accepted_for_everyone(contractor_type: str) -> None:
    body = a_corporation(contractor_type)
    body["contractor"].update(email="taro@example.co.jp", email_confirmation="taro@example.co.jp")
    assert validate_registration(body)[1] == []


def test_all_errors_are_collected_with_dotted_paths() -> None:
    body = an_individual()
    body["terms"]["terms_of_service_accepted"] = False
    body["password_confirmation"] = "Ky7#mPz!qr"
    body["payment_method"] = "credit_card"
    body["contractor"].update(
        name_kana="やまだ たろう",
        postal_code="123456",
        prefecture="東京",
        city_kana="江東区",
        street_kana="あおみ",
        email_confirmation="jiro@example.co.jp",
        phone="090-1234-567",
        fax="abc",
    )
    body["agency_code"] = "AG 001!"
    assert errors_of(body) == {
        ("terms.terms_of_service_accepted", "terms_not_accepted"),
        ("password_confirmation", "password_mismatch"),
        ("payment_method", "invalid_payment_method"),
        ("contractor.name_kana", "invalid_kana"),
        ("contractor.postal_code", "invalid_postal_code"),
        ("contractor.prefecture", "invalid_prefecture"),
        ("contractor.city_kana", "invalid_kana"),
        ("contractor.street_kana", "invalid_kana"),
        ("contractor.email_confirmation", "email_mismatch"),
        ("contractor.phone", "invalid_phone"),
        ("contractor.fax", "invalid_phone"),
        ("agency_code", "invalid_agency_code"),
    }


def test_missing_fields_are_required() -> None:
    body = {"terms": {}, "contractor": {}, "contractor_type": "corporation"}
    assert errors_of(body) == {
        ("terms.privacy_policy_accepted", "terms_not_accepted"),
        ("terms.terms_of_service_accepted", "terms_not_accepted"),
        ("password", "required"),
        ("password_confirmation", "required"),
        ("payment_method", "required"),
        ("representative", "representative_required"),
        *(
            (f"contractor.{field}", "required")
            for field in (
                "name",
                "name_kana",
                "postal_code",
                "prefecture",
                "city",
                "city_kana",
                "street",
                "street_kana",
                "email",
                "email_confirmation",
                "phone",
            )
        ),
    }


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("contractor.postal_code", 1350064, "invalid_type"),
        ("contractor.phone", 312345678, "invalid_type"),
        ("contractor.name", ["山田"], "invalid_type"),
        ("contractor.name", "   ", "required"),
        ("contractor.name", "山田\x00太郎", "invalid_characters"),
        ("contractor.name", "山" * 101, "too_long"),
        ("contractor.email", {"a": 1}, "invalid_type"),
        ("contractor.fax", 0, "invalid_type"),
        ("contractor", None, "required"),
        ("contractor", [], "invalid_type"),
        ("contractor", "山田", "invalid_type"),
        ("terms", None, "required"),
        ("terms", [True, True], "invalid_type"),
        ("terms.privacy_policy_accepted", "true", "invalid_type"),
        ("terms.privacy_policy_accepted", 1, "invalid_type"),
        ("terms.privacy_policy_accepted", 0, "invalid_type"),
        ("terms.privacy_policy_accepted", None, "terms_not_accepted"),
        ("terms.privacy_policy_version", 20240401, "invalid_type"),
        ("terms.privacy_policy_version", "v1; drop", "invalid_terms_version"),
        ("password", 12345678, "invalid_type"),
        ("password", None, "required"),
        ("payment_method", True, "invalid_type"),
        ("contractor_type", "法人", "invalid_contractor_type"),
        ("contractor_type", 2, "invalid_type"),
        ("usage_contact", "same", "invalid_type"),
        ("agency_code", 123, "invalid_type"),
        ("agency_code", "A" * 21, "invalid_agency_code"),
    ],
)
def test_wrong_types_give_errors_not_exceptions(path: str, value: Any, code: str) -> None:
    assert errors_of(with_value(a_corporation(), path, value)) == {(path, code)}


@pytest.mark.parametrize(
    ("section", "value", "code"),
    [
        ("usage_contact", {}, "required"),
        ("billing_contact", {"same_as_contractor": "yes"}, "invalid_type"),
        ("shipping_address", {"same_as_contractor": None, "name": "x"}, "required"),
    ],
)
def test_same_as_contractor_must_be_a_boolean(section: str, value: Any, code: str) -> None:
    body = with_value(a_corporation(), section, value)
    assert errors_of(body) == {(f"{section}.same_as_contractor", code)}


@pytest.mark.parametrize("body", [None, [], "body", 42, [{"terms": {}}]])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    assert errors_of(body) == {("", "invalid_type")}


def test_password_rules_go_on_the_password_field() -> None:
    body = an_individual()
    body["password"] = body["password_confirmation"] = "Password1!"
    data, errors = validate_registration(body)
    assert data is None
    assert [(e.field, e.code) for e in errors] == [("password", "password_policy")]
    assert "推測されやすい" in errors[0].message


def test_own_contacts_and_shipping_address_are_validated_for_a_business() -> None:
    body = a_corporation()
    body["usage_contact"] = {
        "same_as_contractor": False,
        "name": "佐藤 花子",
        "name_kana": "サトウ ハナコ",
        "email": "hanako@gmail.com",  # no business rule for contacts
        "phone": "090-1234-5678",  # any valid number
    }
    body["shipping_address"] = {
        "same_as_contractor": False,
        "name": "パシフィック通信 札幌営業所",
        "name_kana": "パシフィックツウシン サッポロエイギョウショ",
        "postal_code": "0600001",
        "prefecture": "北海道",
        "city": "札幌市中央区",
        "city_kana": "サッポロシチュウオウク",
        "street": "北一条西2-1 ABCビル",
        "street_kana": "キタイチジョウニシ2-1 ABCビル",
        "phone": "011-211-2111",
    }
    data, errors = validate_registration(body)
    assert errors == []
    assert data is not None
    assert data.usage_contact == Contact(
        "佐藤 花子", f"サトウ{FW_SPACE}ハナコ", "hanako@gmail.com", "+819012345678"
    )
    assert data.billing_contact is None  # same as contractor
    assert data.shipping_address == ShippingAddress(
        "パシフィック通信 札幌営業所",
        f"パシフィックツウシン{FW_SPACE}サッポロエイギョウショ",
        "0600001",
        "01",
        "札幌市中央区",
        "サッポロシチュウオウク",
        "北一条西2-1 ABCビル",
        "キタイチジョウニシ2-1 ABCビル",
        "+81112112111",
    )


def test_own_contact_fields_are_required_and_checked() -> None:
    body = a_corporation()
    body["billing_contact"] = {"same_as_contractor": False, "name_kana": "ｻﾄｳ", "email": "x@"}
    body["shipping_address"] = {"same_as_contractor": False, "postal_code": "00000000"}
    assert errors_of(body) == {
        ("billing_contact.name", "required"),
        ("billing_contact.email", "invalid_email"),
        ("billing_contact.phone", "required"),
        ("shipping_address.name", "required"),
        ("shipping_address.name_kana", "required"),
        ("shipping_address.prefecture", "required"),
        ("shipping_address.city", "required"),
        ("shipping_address.city_kana", "required"),
        ("shipping_address.street", "required"),
        ("shipping_address.street_kana", "required"),
        ("shipping_address.phone", "required"),
    }


@pytest.mark.parametrize("section", ["usage_contact", "billing_contact", "shipping_address"])
@pytest.mark.parametrize("value", [{"same_as_contractor": True}, None, _MISSING])
def test_contacts_default_to_same_as_contractor(section: str, value: object) -> None:
    data, errors = validate_registration(with_value(a_corporation(), section, value))
    assert errors == []
    assert data is not None
    assert getattr(data, section) is None


@pytest.mark.parametrize("section", ["usage_contact", "billing_contact"])
@pytest.mark.parametrize(
    "value",
    [
        {"same_as_contractor": False, "name": "佐藤 花子"},
        {"same_as_contractor": True, "name": "佐藤 花子"},
        {"same_as_contractor": False},
        "elsewhere",
    ],
)
def test_individual_contacts_are_refused_not_dropped(section: str, value: object) -> None:
    # SPEC §2.2 marks usage/billing contacts ◆: non-individuals only, refused with a code
    data, errors = validate_registration(with_value(an_individual(), section, value))
    assert data is None
    assert [(e.field, e.code) for e in errors] == [(section, "not_for_individuals")]


@pytest.mark.parametrize("value", [None, {"same_as_contractor": True}, _MISSING])
def test_individual_may_leave_contacts_at_the_default(value: object) -> None:
    body = with_value(an_individual(), "usage_contact", value)
    data, errors = validate_registration(with_value(body, "billing_contact", value))
    assert errors == []
    assert data is not None
    assert (data.usage_contact, data.billing_contact) == (None, None)


def test_individual_keeps_an_own_shipping_address() -> None:
    # SPEC §2.2: 送付先 is for every contractor type, individuals included
    own = {
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
    data, errors = validate_registration(with_value(an_individual(), "shipping_address", own))
    assert errors == []
    assert data is not None
    assert data.shipping_address is not None
    assert (data.shipping_address.name, data.shipping_address.postal_code) == (
        "山田 花子",
        "0600001",
    )
    assert data.shipping_address.prefecture_code == "01"
    broken = with_value(an_individual(), "shipping_address", {"same_as_contractor": False})
    assert ("shipping_address.name", "required") in errors_of(broken)


@pytest.mark.parametrize(
    ("postal_code", "prefecture", "expected"),
    [
        ("00000000", "海外", set()),
        ("00000000", "東京都", {("contractor.prefecture", "invalid_prefecture")}),
        ("1350064", "海外", {("contractor.prefecture", "invalid_prefecture")}),
        ("0600001", "沖縄県", set()),  # a mismatching prefecture only warns
    ],
)
def test_overseas_postal_code_and_kaigai_go_together(
    postal_code: str, prefecture: str, expected: set[tuple[str, str]]
) -> None:
    body = an_individual()
    body["contractor"].update(postal_code=postal_code, prefecture=prefecture)
    data, errors = validate_registration(body)
    assert {(e.field, e.code) for e in errors} == expected
    if not expected:
        assert data is not None
        assert data.contractor.postal_code == postal_code


def test_optional_phones_and_agency_code_are_normalised() -> None:
    body = an_individual()
    body["contractor"].update(contact_phone="090-1234-5678", fax="(03) 1234-5679")
    body["agency_code"] = " ＡＧ－００１ "
    body["terms"]["privacy_policy_version"] = CURRENT_TERMS_VERSION
    data, _ = validate_registration(body)
    assert data is not None
    assert data.contractor.contact_phone_e164 == "+819012345678"
    assert data.contractor.fax_e164 == "+81312345679"
    assert data.agency_code == "AG-001"
    assert data.terms.privacy_policy_version == CURRENT_TERMS_VERSION
    assert data.terms.terms_of_service_version == CURRENT_TERMS_VERSION


def test_a_terms_version_that_was_never_published_is_refused() -> None:
    """Only the version shown today can be accepted (published in data/terms/index.json)."""
    body = an_individual()
    body["terms"]["privacy_policy_version"] = "2023-10-01"
    data, errors = validate_registration(body)
    assert data is None
    [error] = errors
    assert (error.field, error.code) == ("terms.privacy_policy_version", "unknown_terms_version")
    assert (
        error.message
        == "個人情報の取扱いに関する事項（個人情報保護方針）のこの版は公開されていません。"
    )


@pytest.mark.parametrize("agency_code", ["", "  ", None, _MISSING])
def test_blank_agency_code_means_none(agency_code: object) -> None:
    data, errors = validate_registration(with_value(an_individual(), "agency_code", agency_code))
    assert errors == []
    assert data is not None
    assert data.agency_code is None


def test_unknown_extra_fields_are_ignored() -> None:
    body = an_individual()
    body["step"] = "customer_info"
    body["contractor"]["nickname"] = ["anything"]
    assert validate_registration(body)[1] == []


# --- steps -----------------------------------------------------------------------------------


def test_terms_step_checks_only_the_terms() -> None:
    body = {"terms": {"privacy_policy_accepted": True, "terms_of_service_accepted": False}}
    assert errors_of(body, step="terms") == {
        ("terms.terms_of_service_accepted", "terms_not_accepted")
    }
    assert errors_of(with_value(body, "terms.terms_of_service_accepted", True), "terms") == set()


def test_customer_info_step_checks_everything_but_the_terms() -> None:
    body = with_value(an_individual(), "terms", _MISSING)
    assert errors_of(body, step="customer_info") == set()
    body["contractor"]["phone"] = "050-1234-5678"  # an IP phone only warns
    assert errors_of(body, step="customer_info") == set()
    body["contractor"]["phone"] = "050-1234"
    assert errors_of(body, step="customer_info") == {("contractor.phone", "invalid_phone")}


def test_step_check_of_a_valid_body_returns_no_data() -> None:
    assert validate_registration(an_individual(), step="customer_info") == (None, [])


def test_whole_body_without_terms_is_refused() -> None:
    assert errors_of(with_value(an_individual(), "terms", _MISSING)) == {("terms", "required")}


def test_unknown_step_is_refused() -> None:
    assert errors_of(an_individual(), step="payment") == {("step", "invalid_step")}


# --- any client input ------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_FIELDS = [
    "name",
    "name_kana",
    "postal_code",
    "prefecture",
    "city",
    "city_kana",
    "street",
    "street_kana",
    "email",
    "email_confirmation",
    "phone",
    "contact_phone",
    "fax",
    "same_as_contractor",
]
_SECTIONS = ["terms", "contractor", "representative", "usage_contact", "billing_contact"]


@settings(max_examples=100, deadline=None)
@given(
    contractor_type=st.sampled_from(["individual", "corporation", "telemarketing", None, 3]),
    top=st.dictionaries(st.sampled_from([*_SECTIONS, "password", "agency_code"]), _json),
    fields=st.dictionaries(st.sampled_from(_FIELDS), _json | st.text()),
    step=st.sampled_from([None, "terms", "customer_info"]),
)
def test_any_json_body_gives_errors_never_an_exception(
    contractor_type: Any, top: dict[str, Any], fields: dict[str, Any], step: str | None
) -> None:
    body = a_corporation()
    body.update(top, contractor_type=contractor_type)
    for section in ("contractor", "representative", "usage_contact", "shipping_address"):
        body[section] = (
            {**fields, "same_as_contractor": False} if section != "contractor" else fields
        )
    data, errors = validate_registration(body, step=step)
    assert (data is None) or not errors
    assert all(e.field and e.code and e.message for e in errors)
