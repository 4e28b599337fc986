"""Registration's shipping address and ``pbx_kit.jp.read_address`` (the cart's 配送先) are
one implementation: for the same section they give the same errors (field, code, Japanese
message), the same normalised address and the same postal code warning."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pbx_identity.api import REGISTRATION_EXAMPLE
from pbx_identity.validation.registration import validate_registration
from pbx_identity.validation.schema import ShippingAddressIn
from pbx_identity.validation.warnings import all_registration_warnings
from pbx_kit.jp.address import AddressIn, read_address
from pbx_kit.jp.body import max_length_of, read_spec

KEY = "shipping_address"


def a_shipping_address(**changes: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "name": "株式会社パシフィック通信 物流センター",
        "name_kana": "カブシキガイシャ パシフィックツウシン ブツリュウセンター",
        "postal_code": "5300001",
        "prefecture": "大阪府",
        "city": "大阪市北区",
        "city_kana": "オオサカシキタク",
        "street": "梅田1-1-1",
        "street_kana": "ウメダ1-1-1",
        "phone": "06-1234-5678",
    }
    section.update(changes)
    return section


def registration_with(section: Any) -> dict[str, Any]:
    body = copy.deepcopy(dict(REGISTRATION_EXAMPLE))
    body[KEY] = {"same_as_contractor": False, **section} if isinstance(section, dict) else section
    return body


BAD_SECTIONS: list[dict[str, Any]] = [
    {},
    a_shipping_address(name=None),
    a_shipping_address(name=""),
    a_shipping_address(name="  "),
    a_shipping_address(name="x" * 101),
    a_shipping_address(name="山田\x00太郎"),
    a_shipping_address(name=42),
    a_shipping_address(name_kana="山田"),
    a_shipping_address(name_kana=None),
    a_shipping_address(postal_code="12345"),
    a_shipping_address(postal_code="0001234"),
    a_shipping_address(postal_code="1" * 17),
    a_shipping_address(postal_code=5300001),
    a_shipping_address(postal_code="00000000"),
    a_shipping_address(prefecture="大阪"),
    a_shipping_address(prefecture=""),
    a_shipping_address(prefecture="海外"),
    a_shipping_address(city=None),
    a_shipping_address(city="a" * 101),
    a_shipping_address(city_kana="おおさか"),
    a_shipping_address(street=None),
    a_shipping_address(street="b" * 201),
    a_shipping_address(street_kana="梅田"),
    a_shipping_address(street_kana="---"),
    a_shipping_address(phone="12"),
    a_shipping_address(phone="03-1234-5678 ext 9"),
    a_shipping_address(phone=None),
    a_shipping_address(phone="0" * 33),
    a_shipping_address(name=None, postal_code="abc", city_kana="x!", phone="1"),
    {k: None for k in a_shipping_address()},
]


@pytest.mark.parametrize("section", BAD_SECTIONS)
def test_registration_and_read_address_give_the_same_errors(section: dict[str, Any]) -> None:
    _, registration_errors = validate_registration(registration_with(section))
    _, errors, _ = read_address(section, field_prefix=KEY)
    assert errors  # every row is broken
    assert [e for e in registration_errors if e.field.startswith(f"{KEY}.")] == errors


@pytest.mark.parametrize(
    "section",
    [
        a_shipping_address(),
        a_shipping_address(
            postal_code="530-0001", name_kana="ｶﾌﾞｼｷｶﾞｲｼｬ", phone="０６１２３４５６７８"
        ),
        a_shipping_address(prefecture="東京都"),  # a mismatch: a warning, no error
        a_shipping_address(postal_code="4980800", prefecture="愛知県"),  # not listed
        a_shipping_address(postal_code="00000000", prefecture="海外", phone="+1 212-736-3100"),
    ],
)
def test_a_valid_section_gives_the_same_address_and_warnings(section: dict[str, Any]) -> None:
    data, registration_errors = validate_registration(registration_with(section))
    assert registration_errors == [] and data is not None
    assert data.shipping_address is not None
    address, errors, warnings = read_address(section, field_prefix=KEY)
    assert errors == []
    assert address == data.shipping_address.as_dict()
    registration_warnings = all_registration_warnings(data)
    assert [w for w in registration_warnings if w.field.startswith(f"{KEY}.")] == warnings


def test_the_documented_shipping_address_is_the_shared_table() -> None:
    """ShippingAddressIn documents (OpenAPI) the fields read by AddressIn: same keys in the
    same order, titles, lengths and rules."""
    documented = {
        k: v for k, v in ShippingAddressIn.model_fields.items() if k != "same_as_contractor"
    }
    assert list(documented) == list(AddressIn.model_fields)
    for key, info in documented.items():
        shared = AddressIn.model_fields[key]
        assert info.title == shared.title
        assert max_length_of(info) == max_length_of(shared)
        assert read_spec(info) == read_spec(shared)
