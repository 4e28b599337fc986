"""The field table of the registration body: each text field's rule, length and description.

Every type here is a pydantic ``Annotated`` declaration carrying a ``Read`` marker: the
models in ``schema.py`` are built from them (so the OpenAPI shows these limits) and the
reader in ``pbx_kit.jp.body`` enforces them (so the limits shown are the limits applied). Codes
and Japanese messages come from the rule functions; the cross-field checks of a section
(e-mail confirmation, business e-mail) follow. The address fields and their check (an
overseas postal code goes with 海外) are the shared ones of ``pbx_kit.jp.fields``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field

from pbx_kit.jp.body import BodyReader, Read
from pbx_kit.jp.errors import RuleViolation
from pbx_kit.jp.fields import PHONE_MAX
from pbx_kit.jp.phone import normalize_screening_phone
from pbx_kit.jp.width import fold_alnum, fold_hyphens

from .email import check_business_email, normalize_email
from .password import MAX_LENGTH as PASSWORD_MAX
from .password import MIN_LENGTH as PASSWORD_MIN

EMAIL_MAX = 254
AGENCY_CODE_MAX = 20
TERMS_VERSION_MAX = 32

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


Email = Annotated[str, Field(max_length=EMAIL_MAX), Read(normalize_email)]
EmailConfirmation = Annotated[
    str, Field(max_length=EMAIL_MAX, description="メールアドレスと同じもの"), Read()
]
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
