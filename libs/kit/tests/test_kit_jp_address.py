"""``pbx_kit.jp.read_address``: an address section (送付先・配送先) read with registration's
rules and Japanese messages — normalised values, every field required, warnings apart."""

from __future__ import annotations

from typing import Any

import pytest

from pbx_kit.jp import AddressIn, FieldError, read_address
from pbx_kit.jp.address import ADDRESS_KEYS
from pbx_kit.jp.body import max_length_of, read_spec
from pbx_kit.jp.fields import OVERSEAS_MISMATCH_MESSAGE
from pbx_kit.jp.kana import NAME_KANA_MESSAGE
from pbx_kit.jp.phone import INVALID_PHONE_MESSAGE
from pbx_kit.jp.postal import INVALID_POSTAL_CODE_MESSAGE
from pbx_kit.jp.postal_lookup import (
    POSTAL_CODE_NOT_FOUND,
    POSTAL_CODE_NOT_FOUND_MESSAGE,
    POSTAL_CODE_PREFECTURE_MISMATCH,
    POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE,
)


def an_address(**changes: Any) -> dict[str, Any]:
    address: dict[str, Any] = {
        "name": "山田 太郎",
        "name_kana": "ヤマダ タロウ",
        "postal_code": "1350064",
        "prefecture": "東京都",
        "city": "江東区",
        "city_kana": "コウトウク",
        "street": "青海2-7-4",
        "street_kana": "アオミ2-7-4",
        "phone": "03-1234-5678",
    }
    address.update(changes)
    return {k: v for k, v in address.items() if v is not None}


def test_a_valid_address_is_normalised_as_identity_stores_it() -> None:
    typed = an_address(
        name="  山田 太郎 ",
        name_kana="ﾔﾏﾀﾞ ﾀﾛｳ",  # half-width kana: widened, the space becomes U+3000
        postal_code="１３５－００６４",  # full-width digits and dash: folded, hyphen dropped
        city_kana="ｺｳﾄｳｸ",
        street_kana="ｱｵﾐ２ー７ー４",  # the IME's long vowel between digits is the hyphen
        phone="０３（１２３４）５６７８",
    )
    address, errors, warnings = read_address(typed, field_prefix="shipping_address")
    assert errors == [] and warnings == []
    assert address == {
        "name": "山田 太郎",
        "name_kana": "ヤマダ\u3000タロウ",
        "postal_code": "1350064",
        "prefecture_code": "13",
        "city": "江東区",
        "city_kana": "コウトウク",
        "street": "青海2-7-4",
        "street_kana": "アオミ2-7-4",
        "phone_e164": "+81312345678",
    }
    assert tuple(address) == ADDRESS_KEYS


@pytest.mark.parametrize("postal_code", ["135-0064", "〒135-0064", "1350064", "１３５００６４"])
def test_postal_codes_as_typed_are_folded_to_seven_digits(postal_code: str) -> None:
    address, errors, _ = read_address(an_address(postal_code=postal_code))
    assert errors == []
    assert address is not None and address["postal_code"] == "1350064"


def test_a_prefecture_may_be_given_by_its_code() -> None:
    address, errors, _ = read_address(an_address(prefecture="13"))
    assert errors == [] and address is not None and address["prefecture_code"] == "13"


_TITLES = {
    "name": "宛名",
    "name_kana": "フリガナ",
    "postal_code": "郵便番号",
    "prefecture": "都道府県",
    "city": "市区町村",
    "city_kana": "市区町村フリガナ",
    "street": "番地・建物名",
    "street_kana": "番地・建物名フリガナ",
    "phone": "電話番号",
}


@pytest.mark.parametrize("key", list(_TITLES))
@pytest.mark.parametrize("missing", [None, "", "  \u3000"])
def test_each_missing_field_is_named(key: str, missing: str | None) -> None:
    address, errors, warnings = read_address(
        an_address(**{key: missing}), field_prefix="shipping_address"
    )
    verb = "選択" if key == "prefecture" else "入力"
    assert address is None and warnings == []
    assert errors == [
        FieldError(
            f"shipping_address.{key}", "required", f"送付先の{_TITLES[key]}を{verb}してください。"
        )
    ]


def test_an_empty_section_names_every_field_in_the_form_s_order() -> None:
    address, errors, _ = read_address({}, field_prefix="shipping_address")
    assert address is None
    assert [e.field for e in errors] == [f"shipping_address.{k}" for k in _TITLES]
    assert {e.code for e in errors} == {"required"}


@pytest.mark.parametrize(
    ("field_prefix", "path"),
    [
        ("", "postal_code"),
        ("shipping_address", "shipping_address.postal_code"),
        ("shipping_address.", "shipping_address.postal_code"),
        ("cart.ship_to", "cart.ship_to.postal_code"),
    ],
)
def test_the_field_prefix_is_the_section_s_path(field_prefix: str, path: str) -> None:
    _, errors, _ = read_address(an_address(postal_code="12345"), field_prefix=field_prefix)
    assert errors == [FieldError(path, "invalid_postal_code", INVALID_POSTAL_CODE_MESSAGE)]


def test_the_label_prefix_may_name_the_section_otherwise() -> None:
    _, errors, _ = read_address(an_address(name=None), label_prefix="配送先の")
    assert errors == [FieldError("name", "required", "配送先の宛名を入力してください。")]


def test_every_broken_field_is_reported_at_once() -> None:
    typed = an_address(name_kana="山田", postal_code="abc", phone="12", city="x" * 101)
    address, errors, warnings = read_address(typed, field_prefix="shipping_address")
    assert address is None and warnings == []
    assert errors == [
        FieldError("shipping_address.name_kana", "invalid_kana", NAME_KANA_MESSAGE),
        FieldError(
            "shipping_address.postal_code", "invalid_postal_code", INVALID_POSTAL_CODE_MESSAGE
        ),
        FieldError(
            "shipping_address.city", "too_long", "送付先の市区町村は100文字以内で入力してください。"
        ),
        FieldError("shipping_address.phone", "invalid_phone", INVALID_PHONE_MESSAGE),
    ]


def test_a_field_that_is_no_string_is_invalid_type() -> None:
    _, errors, _ = read_address(an_address(postal_code=1350064), field_prefix="s")
    assert errors == [
        FieldError("s.postal_code", "invalid_type", "送付先の郵便番号の形式が正しくありません。")
    ]


def test_a_section_that_is_no_object_is_invalid_type() -> None:
    address, errors, warnings = read_address(["東京都"], field_prefix="shipping_address")  # type: ignore[arg-type]
    assert address is None and warnings == []
    assert errors == [
        FieldError("shipping_address", "invalid_type", "送付先の形式が正しくありません。")
    ]


def test_an_overseas_address_is_valid_input() -> None:
    """00000000 with 海外 is an address; whether devices go abroad is the caller's rule."""
    typed = an_address(
        postal_code="00000000",
        prefecture="海外",
        city="New York",
        city_kana="ニューヨーク",
        street="350 Fifth Avenue",
        street_kana="350 Fifth Avenue",
        phone="+1 212-736-3100",
    )
    address, errors, warnings = read_address(typed)
    assert errors == [] and warnings == []
    assert address is not None
    assert (address["postal_code"], address["prefecture_code"]) == ("00000000", "99")
    assert address["phone_e164"] == "+12127363100"


@pytest.mark.parametrize(
    ("postal_code", "prefecture"), [("00000000", "東京都"), ("1350064", "海外")]
)
def test_the_overseas_code_and_kaigai_go_together(postal_code: str, prefecture: str) -> None:
    address, errors, _ = read_address(
        an_address(postal_code=postal_code, prefecture=prefecture), field_prefix="shipping_address"
    )
    assert address is None
    assert errors == [
        FieldError("shipping_address.prefecture", "invalid_prefecture", OVERSEAS_MISMATCH_MESSAGE)
    ]


def test_a_prefecture_that_does_not_match_the_postal_code_warns_not_errs() -> None:
    address, errors, warnings = read_address(
        an_address(prefecture="大阪府"), field_prefix="shipping_address"
    )
    assert errors == []
    assert address is not None and address["prefecture_code"] == "27"
    assert warnings == [
        FieldError(
            "shipping_address.postal_code",
            POSTAL_CODE_PREFECTURE_MISMATCH,
            POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE,
        )
    ]


def test_a_code_japan_post_does_not_list_warns_not_found() -> None:
    address, errors, warnings = read_address(an_address(postal_code="4980800", prefecture="愛知県"))
    assert errors == [] and address is not None
    assert warnings == [
        FieldError("postal_code", POSTAL_CODE_NOT_FOUND, POSTAL_CODE_NOT_FOUND_MESSAGE)
    ]


def test_the_model_documents_the_table_the_reader_enforces() -> None:
    """AddressIn is what the reader reads by, and can document a body (OpenAPI)."""
    assert list(AddressIn.model_fields) == list(_TITLES)
    for key, info in AddressIn.model_fields.items():
        assert info.title == _TITLES[key]
        assert info.is_required()
        assert read_spec(info).check is not None or read_spec(info).free_text
        assert max_length_of(info) is not None
    assert AddressIn.model_validate(an_address()).model_dump() == an_address()
