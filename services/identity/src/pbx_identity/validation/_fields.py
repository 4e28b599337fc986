"""Field groups shared by the sections of the registration body (address, kana, e-mail, phone)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ._body import BodyReader
from .email import check_business_email, normalize_email
from .errors import RuleViolation
from .kana import normalize_name_kana, normalize_street_kana
from .phone import normalize_phone, normalize_screening_phone
from .postal import is_overseas_postal_code, normalize_postal_code
from .prefectures import is_overseas_prefecture, prefecture_code

NAME_MAX, CITY_MAX, STREET_MAX, EMAIL_MAX, PHONE_MAX = 100, 100, 200, 254, 32

OVERSEAS_MISMATCH_MESSAGE = (
    "郵便番号が00000000（海外）の場合は都道府県で「海外」を、"
    "国内の郵便番号の場合は47都道府県のいずれかを選択してください。"
)
EMAIL_MISMATCH_MESSAGE = "メールアドレスと確認用メールアドレスが一致しません。"


class Address(NamedTuple):
    postal_code: str
    prefecture_code: str
    city: str
    city_kana: str
    street: str
    street_kana: str


def read_address(r: BodyReader, a: Mapping[str, Any], section: str) -> Address | None:
    """Read postal code, prefecture, city and street (with furigana) of one section."""
    postal_raw = r.text(a, "postal_code", f"{section}.postal_code", max_length=16)
    postal = r.rule(f"{section}.postal_code", normalize_postal_code, postal_raw)
    pref_raw = r.text(a, "prefecture", f"{section}.prefecture", max_length=16)
    pref = r.rule(f"{section}.prefecture", prefecture_code, pref_raw)
    if postal and pref and is_overseas_postal_code(postal) != is_overseas_prefecture(pref):
        r.fail(f"{section}.prefecture", "invalid_prefecture", OVERSEAS_MISMATCH_MESSAGE)
        pref = None
    city = r.free_text(a, "city", f"{section}.city", max_length=CITY_MAX)
    city_kana = read_kana(r, a, f"{section}.city_kana")
    street = r.free_text(a, "street", f"{section}.street", max_length=STREET_MAX)
    street_raw = r.text(a, "street_kana", f"{section}.street_kana", max_length=STREET_MAX)
    street_kana = r.rule(f"{section}.street_kana", normalize_street_kana, street_raw)
    if not (postal and pref and city and city_kana and street and street_kana):
        return None
    return Address(postal, pref, city, city_kana, street, street_kana)


def read_name(r: BodyReader, parent: Mapping[str, Any], section: str) -> tuple[str, str] | None:
    """Read ``name`` (trimmed, otherwise kept as typed) and ``name_kana`` of one section."""
    name = r.free_text(parent, "name", f"{section}.name", max_length=NAME_MAX)
    name_kana = read_kana(r, parent, f"{section}.name_kana")
    return (name, name_kana) if name and name_kana else None


def read_kana(r: BodyReader, parent: Mapping[str, Any], path: str) -> str | None:
    raw = r.text(parent, path.rpartition(".")[2], path, max_length=NAME_MAX)
    return r.rule(path, normalize_name_kana, raw)


def read_email(
    r: BodyReader, parent: Mapping[str, Any], section: str, *, business: bool, confirm: bool
) -> str | None:
    """Read ``email`` (and ``email_confirmation`` when ``confirm``) of one section."""
    path = f"{section}.email"
    email = r.rule(path, normalize_email, r.text(parent, "email", path, max_length=EMAIL_MAX))
    if confirm:
        confirm_path = f"{section}.email_confirmation"
        confirmation = r.text(parent, "email_confirmation", confirm_path, max_length=EMAIL_MAX)
        if email and confirmation is not None and _normalized_or_none(confirmation) != email:
            r.fail(confirm_path, "email_mismatch", EMAIL_MISMATCH_MESSAGE)
            email = None
    if email and business and not r.check(path, check_business_email, email):
        email = None
    return email


def read_phone(
    r: BodyReader,
    parent: Mapping[str, Any],
    path: str,
    *,
    screening: bool = False,
    required: bool = True,
) -> str | None:
    """Read a phone number as E.164; ``screening`` demands a Japanese fixed line."""
    raw = r.text(parent, path.rpartition(".")[2], path, max_length=PHONE_MAX, required=required)
    return r.rule(path, normalize_screening_phone if screening else normalize_phone, raw)


def _normalized_or_none(value: str) -> str | None:
    try:
        return normalize_email(value)
    except RuleViolation:
        return None
