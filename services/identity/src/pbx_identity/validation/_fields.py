"""The field table of the registration body: each text field's rule, length and description.

Every type here is a pydantic ``Annotated`` declaration carrying a ``Read`` marker: the
models in ``schema.py`` are built from them (so the OpenAPI shows these limits) and the
reader in ``_body.py`` enforces them (so the limits shown are the limits applied). Codes
and Japanese messages come from the rule functions; the cross-field checks of a section
(overseas postal code and prefecture, e-mail confirmation, business e-mail) follow.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple

from pydantic import Field

from ._body import BodyReader, Read
from ._width import fold_alnum, fold_hyphens
from .email import check_business_email, normalize_email
from .errors import RuleViolation
from .kana import normalize_name_kana, normalize_street_kana
from .password import MAX_LENGTH as PASSWORD_MAX
from .password import MIN_LENGTH as PASSWORD_MIN
from .phone import normalize_phone, normalize_screening_phone
from .postal import is_overseas_postal_code, normalize_postal_code
from .prefectures import is_overseas_prefecture, prefecture_code

NAME_MAX, CITY_MAX, STREET_MAX, EMAIL_MAX, PHONE_MAX = 100, 100, 200, 254, 32
POSTAL_CODE_MAX = PREFECTURE_MAX = 16
AGENCY_CODE_MAX = 20
TERMS_VERSION_MAX = 32

OVERSEAS_MISMATCH_MESSAGE = (
    "郵便番号が00000000（海外）の場合は都道府県で「海外」を、"
    "国内の郵便番号の場合は47都道府県のいずれかを選択してください。"
)
EMAIL_MISMATCH_MESSAGE = "メールアドレスと確認用メールアドレスが一致しません。"
INVALID_AGENCY_CODE_MESSAGE = (
    f"取次店コードは半角英数字とハイフン（{AGENCY_CODE_MAX}文字以内）で入力してください。"
)
INVALID_TERMS_VERSION_MESSAGE = "規約の版の指定が正しくありません。"

_AGENCY_CODE = re.compile(rf"\A[0-9A-Za-z-]{{1,{AGENCY_CODE_MAX}}}\Z")
_TERMS_VERSION = re.compile(rf"\A[0-9A-Za-z._-]{{1,{TERMS_VERSION_MAX}}}\Z")


def normalize_agency_code(value: str) -> str:
    """Fold full-width letters, digits and dashes; then 1-20 of ``0-9 A-Z a-z -``."""
    code = fold_hyphens(fold_alnum(value))
    if not _AGENCY_CODE.fullmatch(code):
        raise RuleViolation("invalid_agency_code", INVALID_AGENCY_CODE_MESSAGE)
    return code


def check_terms_version(value: str) -> str:
    """A terms version as sent (``2024-04-01``): 1-32 of ``0-9 A-Z a-z . _ -``."""
    if not _TERMS_VERSION.fullmatch(value):
        raise RuleViolation("invalid_terms_version", INVALID_TERMS_VERSION_MESSAGE)
    return value


_KANA = "フリガナ: 全角カタカナ（半角カナは全角に、空白は全角空白に正規化）または半角英数字"
_PHONE = "半角数字・+・括弧・ハイフン・空白。有効な電話番号であること（E.164で保存）"

Name = Annotated[str, Field(max_length=NAME_MAX), Read(free_text=True)]
Kana = Annotated[str, Field(max_length=NAME_MAX, description=_KANA), Read(normalize_name_kana)]
PostalCode = Annotated[
    str,
    Field(
        max_length=POSTAL_CODE_MAX,
        description="半角数字7桁（ハイフンなし。全角・ハイフン付きは正規化）。海外は 00000000",
        examples=["1350064"],
    ),
    Read(normalize_postal_code),
]
Prefecture = Annotated[
    str,
    Field(
        max_length=PREFECTURE_MAX,
        description="都道府県名（47都道府県）または海外",
        examples=["東京都"],
    ),
    Read(prefecture_code, select=True),
]
City = Annotated[str, Field(max_length=CITY_MAX), Read(free_text=True)]
Street = Annotated[str, Field(max_length=STREET_MAX), Read(free_text=True)]
StreetKana = Annotated[
    str,
    Field(max_length=STREET_MAX, description="カタカナと半角英数字・ハイフン・空白"),
    Read(normalize_street_kana),
]
Email = Annotated[str, Field(max_length=EMAIL_MAX), Read(normalize_email)]
EmailConfirmation = Annotated[
    str, Field(max_length=EMAIL_MAX, description="メールアドレスと同じもの"), Read()
]
Phone = Annotated[str, Field(max_length=PHONE_MAX, description=_PHONE), Read(normalize_phone)]
ScreeningPhone = Annotated[
    str,
    Field(
        max_length=PHONE_MAX,
        description=(
            "審査用固定番号: 有効な電話番号（+で始まる海外の番号も可）。日本の固定電話"
            "（0AB-J）でない番号は警告 fixed_line_recommended（拒否はしない）"
        ),
        examples=["03-1234-5678"],
    ),
    Read(normalize_screening_phone),
]
Password = Annotated[
    str,
    Field(
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description=(
            f"{PASSWORD_MIN}文字以上{PASSWORD_MAX}文字以内。英大文字・英小文字・記号"
            "（! @ # $ % ^ & * ? _ -）を含み、半角英数字とこれらの記号のみ（長さも"
            " password_policy で判定）"
        ),
    ),
    Read(trim=False, length_in_check=True),
]
PasswordConfirmation = Annotated[str, Field(description="パスワードと同じもの"), Read(trim=False)]
AgencyCode = Annotated[
    str,
    Field(
        max_length=AGENCY_CODE_MAX,
        description=(
            f"取次店コード（任意）: 半角英数字とハイフン、{AGENCY_CODE_MAX}文字以内"
            "（全角は半角に正規化。超えると invalid_agency_code）"
        ),
    ),
    Read(normalize_agency_code, length_in_check=True),
]
TermsVersion = Annotated[
    str,
    Field(max_length=TERMS_VERSION_MAX, description="同意した版（省略時は現行版）"),
    Read(check_terms_version, length_in_check=True),
]


class PostalParts(NamedTuple):
    """The postal part of a section's address, checked (the reader's intermediate)."""

    postal_code: str
    prefecture_code: str
    city: str
    city_kana: str
    street: str
    street_kana: str


def address_of(r: BodyReader, values: dict[str, Any], section: str) -> PostalParts | None:
    """The section's address; an overseas postal code and 海外 go together."""
    postal, pref = values["postal_code"], values["prefecture"]
    if postal and pref and is_overseas_postal_code(postal) != is_overseas_prefecture(pref):
        r.fail(f"{section}.prefecture", "invalid_prefecture", OVERSEAS_MISMATCH_MESSAGE)
        return None
    parts = (postal, pref, *(values[k] for k in ("city", "city_kana", "street", "street_kana")))
    return PostalParts(*parts) if all(parts) else None


def email_of(
    r: BodyReader, values: dict[str, Any], section: str, *, business: bool, confirm: bool
) -> str | None:
    """The section's e-mail: equal to its confirmation (when ``confirm``), a business domain
    (when ``business``)."""
    email: str | None = values["email"]
    if confirm:
        confirmation = values["email_confirmation"]
        if email and confirmation is not None and _normalized_or_none(confirmation) != email:
            r.fail(f"{section}.email_confirmation", "email_mismatch", EMAIL_MISMATCH_MESSAGE)
            email = None
    if email and business and not r.check(f"{section}.email", check_business_email, email):
        email = None
    return email


def _normalized_or_none(value: str) -> str | None:
    try:
        return normalize_email(value)
    except RuleViolation:
        return None
