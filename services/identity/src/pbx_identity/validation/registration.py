"""Whole-body validation of the registration request (SPEC §2.2, API.md identity).

Every client input yields errors, never an exception; all errors are collected,
each with the dotted path of its field in the JSON body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._body import BodyReader
from ._fields import read_address, read_email, read_name, read_phone
from ._width import fold_alnum, fold_hyphens
from .errors import FieldError
from .model import (
    CONTRACTOR_TYPES,
    CURRENT_TERMS_VERSION,
    Contact,
    Contractor,
    ContractorType,
    RegistrationData,
    Representative,
    ShippingAddress,
    TermsAcceptance,
)
from .password import (
    PASSWORD_MISMATCH,
    PASSWORD_MISMATCH_MESSAGE,
    password_policy_message,
    password_problems,
)

STEPS = ("terms", "customer_info")

_TERMS_VERSION = re.compile(r"\A[0-9A-Za-z._-]{1,32}\Z")
_AGENCY_CODE = re.compile(r"\A[0-9A-Za-z-]{1,20}\Z")
REPRESENTATIVE_REQUIRED_MESSAGE = (
    "法人・テレマ事業者のお客様は代表者名とフリガナを入力してください。"
)
_TERMS_FLAGS = {
    "privacy_policy_accepted": "個人情報の取扱いに関する事項に同意してください。",
    "terms_of_service_accepted": "利用規約に同意してください。",
}


def validate_registration(
    body: Mapping[str, Any], *, step: str | None = None
) -> tuple[RegistrationData | None, list[FieldError]]:
    """Validate a registration body, whole (``step=None``) or one step ("terms", "customer_info").

    Returns the normalised data only for a whole body without errors; a step check
    returns ``(None, errors)``.
    """
    if step is not None and step not in STEPS:
        return None, [FieldError("step", "invalid_step", "入力ステップの指定が正しくありません。")]
    if not isinstance(body, Mapping):
        return None, [FieldError("", "invalid_type", "リクエストの形式が正しくありません。")]
    r = BodyReader()
    terms = _terms(r, body) if step != "customer_info" else None
    if step == "terms":
        return None, r.errors
    password = _password(r, body)
    _payment_method(r, body)
    contractor_type = _contractor_type(r, body)
    contractor = _contractor(r, body, contractor_type)
    individual = contractor_type == "individual"
    # ◆ items (SPEC §2.2) exist only for non-individuals; an individual's are ignored.
    representative = None if individual else _representative(r, body, contractor_type)
    usage = None if individual else _contact(r, body, "usage_contact")
    billing = None if individual else _contact(r, body, "billing_contact")
    shipping = None if individual else _shipping_address(r, body)
    agency_code = _agency_code(r, body)
    if r.errors or step is not None:
        return None, r.errors
    # Without errors every required part is present.
    assert terms is not None
    assert password is not None
    assert contractor_type is not None
    assert contractor is not None
    data = RegistrationData(
        terms=terms,
        password=password,
        contractor_type=contractor_type,
        contractor=contractor,
        representative=representative,
        usage_contact=usage,
        billing_contact=billing,
        shipping_address=shipping,
        agency_code=agency_code,
    )
    return data, []


def _terms(r: BodyReader, body: Mapping[str, Any]) -> TermsAcceptance | None:
    terms = r.obj(body, "terms", "terms")
    if terms is None:
        return None
    for flag, message in _TERMS_FLAGS.items():
        accepted = terms.get(flag)
        if accepted is None or accepted is False:  # not `in (None, False)`: 0 == False
            r.fail(f"terms.{flag}", "terms_not_accepted", message)
        elif accepted is not True:
            r.invalid_type(f"terms.{flag}")
    versions = [
        _terms_version(r, terms, key)
        for key in ("privacy_policy_version", "terms_of_service_version")
    ]
    if versions[0] is None or versions[1] is None:
        return None
    return TermsAcceptance(versions[0], versions[1])


def _terms_version(r: BodyReader, terms: Mapping[str, Any], key: str) -> str | None:
    path, value = f"terms.{key}", terms.get(key)
    if value is not None and not isinstance(value, str):
        r.invalid_type(path)
        return None
    version = (value or "").strip()
    if not version:
        return CURRENT_TERMS_VERSION
    if not _TERMS_VERSION.fullmatch(version):
        r.fail(path, "invalid_terms_version", "規約の版の指定が正しくありません。")
        return None
    return version


def _password(r: BodyReader, body: Mapping[str, Any]) -> str | None:
    # Never trimmed: what is typed is what is hashed. The length cap is checked by the policy.
    password = r.text(body, "password", "password", max_length=1 << 16, trim=False)
    confirmation = r.text(
        body, "password_confirmation", "password_confirmation", max_length=1 << 16, trim=False
    )
    if password is None:
        return None
    problems = password_problems(password)
    if problems:
        r.fail("password", "password_policy", password_policy_message(problems))
    if confirmation is not None and confirmation != password:
        r.fail("password_confirmation", PASSWORD_MISMATCH, PASSWORD_MISMATCH_MESSAGE)
    return None if problems else password


def _payment_method(r: BodyReader, body: Mapping[str, Any]) -> None:
    method = r.text(body, "payment_method", "payment_method", max_length=32)
    if method is not None and method != "prepaid":
        r.fail(
            "payment_method",
            "invalid_payment_method",
            "お支払い方法はプリペイドのみご利用いただけます。",
        )


def _contractor_type(r: BodyReader, body: Mapping[str, Any]) -> ContractorType | None:
    value = r.text(body, "contractor_type", "contractor_type", max_length=32)
    for contractor_type in CONTRACTOR_TYPES:
        if value == contractor_type:
            return contractor_type
    if value is not None:
        r.fail(
            "contractor_type",
            "invalid_contractor_type",
            "契約者区分は個人・法人・テレマ事業者のいずれかを選択してください。",
        )
    return None


def _contractor(
    r: BodyReader, body: Mapping[str, Any], contractor_type: ContractorType | None
) -> Contractor | None:
    c = r.obj(body, "contractor", "contractor")
    if c is None:
        return None
    names = read_name(r, c, "contractor")
    address = read_address(r, c, "contractor")
    business = contractor_type in ("corporation", "telemarketing")
    email = read_email(r, c, "contractor", business=business, confirm=True)
    phone = read_phone(r, c, "contractor.phone", screening=True)
    contact_phone = read_phone(r, c, "contractor.contact_phone", required=False)
    fax = read_phone(r, c, "contractor.fax", required=False)
    if not (names and address and email and phone):
        return None
    return Contractor(*names, *address, email, phone, contact_phone, fax)


def _representative(
    r: BodyReader, body: Mapping[str, Any], contractor_type: ContractorType | None
) -> Representative | None:
    if body.get("representative") is None:
        if contractor_type is not None:  # with an unknown type we cannot tell if it is needed
            r.fail("representative", "representative_required", REPRESENTATIVE_REQUIRED_MESSAGE)
        return None
    rep = r.obj(body, "representative", "representative")
    names = read_name(r, rep, "representative") if rep is not None else None
    return Representative(*names) if names else None


def _own_section(r: BodyReader, body: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """Return the section's own fields, or None for "same as contractor" or a broken section."""
    if body.get(key) is None:
        return None  # not chosen: the form's default is "same as contractor"
    section = r.obj(body, key, key)
    if section is None:
        return None
    same = section.get("same_as_contractor")
    if same is None:
        r.required(f"{key}.same_as_contractor")
    elif not isinstance(same, bool):
        r.invalid_type(f"{key}.same_as_contractor")
    elif not same:
        return section
    return None


def _contact(r: BodyReader, body: Mapping[str, Any], key: str) -> Contact | None:
    c = _own_section(r, body, key)
    if c is None:
        return None
    names = read_name(r, c, key)
    email = read_email(r, c, key, business=False, confirm=False)
    phone = read_phone(r, c, f"{key}.phone")
    return Contact(*names, email, phone) if names and email and phone else None


def _shipping_address(r: BodyReader, body: Mapping[str, Any]) -> ShippingAddress | None:
    s = _own_section(r, body, "shipping_address")
    if s is None:
        return None
    names = read_name(r, s, "shipping_address")
    address = read_address(r, s, "shipping_address")
    phone = read_phone(r, s, "shipping_address.phone")
    return ShippingAddress(*names, *address, phone) if names and address and phone else None


def _agency_code(r: BodyReader, body: Mapping[str, Any]) -> str | None:
    raw = r.text(body, "agency_code", "agency_code", max_length=64, required=False)
    if raw is None:
        return None
    code = fold_hyphens(fold_alnum(raw))
    if not _AGENCY_CODE.fullmatch(code):
        r.fail(
            "agency_code",
            "invalid_agency_code",
            "取次店コードは半角英数字とハイフン（20文字以内）で入力してください。",
        )
        return None
    return code


@dataclass(frozen=True)
class ContractInfo:
    """The changeable contract info of an account (the account page, SPEC §2.5)."""

    contractor: Contractor
    representative: Representative | None
    usage_contact: Contact | None
    billing_contact: Contact | None
    shipping_address: ShippingAddress | None


def validate_contract_info(
    body: Mapping[str, Any], contractor_type: ContractorType
) -> tuple[ContractInfo | None, list[FieldError]]:
    """Validate a whole contract-info body with every SPEC §2.2 rule (no terms, no password).

    The contractor type is the account's own: it is not changed on the account page.
    """
    if not isinstance(body, Mapping):
        return None, [FieldError("", "invalid_type", "リクエストの形式が正しくありません。")]
    r = BodyReader()
    contractor = _contractor(r, body, contractor_type)
    individual = contractor_type == "individual"
    representative = None if individual else _representative(r, body, contractor_type)
    usage = None if individual else _contact(r, body, "usage_contact")
    billing = None if individual else _contact(r, body, "billing_contact")
    shipping = None if individual else _shipping_address(r, body)
    if r.errors or contractor is None:
        return None, r.errors
    return ContractInfo(contractor, representative, usage, billing, shipping), []
