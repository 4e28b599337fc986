"""The Address value object: read from a contractor's or a shipping section, stored as a
plain dict with the same keys as before."""

from __future__ import annotations

import dataclasses

import pytest

from pbx_identity.domain.address import Address

CONTRACTOR = {
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
    "corporate_number": "",
}


def test_a_contractors_address_is_its_nine_address_fields() -> None:
    address = Address.of(CONTRACTOR)
    assert address.as_dict() == {k: v for k, v in CONTRACTOR.items() if k in address.as_dict()}
    assert list(address.as_dict()) == [
        "name",
        "name_kana",
        "postal_code",
        "prefecture_code",
        "city",
        "city_kana",
        "street",
        "street_kana",
        "phone_e164",
    ]
    assert Address.of(address.as_dict()) == address


def test_an_address_is_a_value() -> None:
    address = Address.of(CONTRACTOR)
    with pytest.raises(dataclasses.FrozenInstanceError):
        address.city = "港区"  # type: ignore[misc]
    assert address == Address.of(dict(CONTRACTOR))
    assert address != Address.of({**CONTRACTOR, "city": "港区"})
