"""Whole-body validation of the registration request (SPEC §2.2, API.md identity).

Every client input yields errors, never an exception; all errors are collected,
each with the dotted path of its field in the JSON body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pbx_kit.jp.address import read_address_into
from pbx_kit.jp.body import BodyReader, title_of
from pbx_kit.jp.errors import FieldError
from pbx_kit.jp.fields import address_of

from ._fields import email_of
from .model import (
    CONTRACTOR_TYPES,
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
from .schema import (
    INVALID_STEP_MESSAGE,
    STEPS,
    ContactIn,
    ContractorIn,
    PersonIn,
    RegistrationIn,
    ShippingAddressIn,
    TermsIn,
)
from .terms import TERMS_DOCUMENTS, current_terms, terms_version_problem

NOT_FOR_INDIVIDUALS = "not_for_individuals"
#: the ◆ sections of SPEC §2.2: only for corporations and テレマ
CORPORATE_ONLY_SECTIONS = ("representative", "usage_contact", "billing_contact")
REPRESENTATIVE_REQUIRED_MESSAGE = (
    "法人・テレマ事業者のお客様は代表者名とフリガナを入力してください。"
)
_TERMS_FLAGS = {
    "privacy_policy_accepted": "個人情報の取扱いに関する事項に同意してください。",
    "terms_of_service_accepted": "利用規約に同意してください。",
}
JST = ZoneInfo("Asia/Tokyo")
_BODY_NOT_AN_OBJECT = FieldError("", "invalid_type", "リクエストの形式が正しくありません。")


def invalid_step(step: object) -> list[FieldError]:
    """The error of a ``step`` that is not one of STEPS; none for a known step or no step."""
    if step is None or (isinstance(step, str) and step in STEPS):
        return []
    return [FieldError("step", "invalid_step", INVALID_STEP_MESSAGE)]


@dataclass(frozen=True)
class ValidatedDraft:
    """What a draft check read, normalised: the terms (step ``terms``), the customer info
    (step ``customer_info``), or both (a whole body). For the confirmation screen (確認)."""

    terms: TermsAcceptance | None
    contractor_type: ContractorType | None
    contract: ContractInfo | None
    agency_code: str | None


def validate_registration(
    body: Mapping[str, Any], *, step: str | None = None
) -> tuple[RegistrationData | None, list[FieldError]]:
    """Validate a registration body, whole (``step=None``) or one step ("terms", "customer_info").

    Returns the normalised data only for a whole body without errors; a step check
    returns ``(None, errors)`` (:func:`validate_draft` gives a step's normalised values).
    """
    draft, password, errors = _read(body, step)
    if errors or draft is None or step is not None:
        return None, errors
    # Without errors every required part is present.
    assert draft.terms is not None
    assert password is not None
    assert draft.contractor_type is not None
    assert draft.contract is not None
    contract = draft.contract
    data = RegistrationData(
        terms=draft.terms,
        password=password,
        contractor_type=draft.contractor_type,
        contractor=contract.contractor,
        representative=contract.representative,
        usage_contact=contract.usage_contact,
        billing_contact=contract.billing_contact,
        shipping_address=contract.shipping_address,
        agency_code=draft.agency_code,
    )
    return data, []


def validate_draft(
    body: Mapping[str, Any], *, step: str | None = None
) -> tuple[ValidatedDraft | None, list[FieldError]]:
    """Validate a draft, whole or one step, and return what it read normalised (no password)."""
    draft, _, errors = _read(body, step)
    return (None, errors) if errors else (draft, [])


def _read(
    body: Mapping[str, Any], step: str | None
) -> tuple[ValidatedDraft | None, str | None, list[FieldError]]:
    if step_errors := invalid_step(step):
        return None, None, step_errors
    if not isinstance(body, Mapping):
        return None, None, [_BODY_NOT_AN_OBJECT]
    r = BodyReader()
    terms = _terms(r, body) if step != "customer_info" else None
    if step == "terms":
        return ValidatedDraft(terms, None, None, None), None, r.errors
    password = _password(r, body)
    _payment_method(r, body)
    contractor_type = _contractor_type(r, body)
    contractor = _contractor(r, body, contractor_type)
    representative, usage, billing = _corporate_sections(r, body, contractor_type)
    shipping = _shipping_address(r, body)
    agency_code = _top_text(r, body, "agency_code", required=False)
    if r.errors or contractor is None:
        return None, None, r.errors
    contract = ContractInfo(contractor, representative, usage, billing, shipping)
    return ValidatedDraft(terms, contractor_type, contract, agency_code), password, []


def _label(key: str) -> str:
    return title_of(RegistrationIn, key)


def _top_text(r: BodyReader, body: Mapping[str, Any], key: str, *, required: bool) -> Any:
    info = RegistrationIn.model_fields[key]
    return r.field(body, key, key, _label(key), info, required=required)


TERMS_REQUIRED_MESSAGE = (
    "個人情報の取扱いに関する事項と利用規約をお読みいただき、同意してください。"
)


def _terms(r: BodyReader, body: Mapping[str, Any]) -> TermsAcceptance | None:
    if body.get("terms") is None:  # an agreement is given, not typed in (入力)
        r.fail("terms", "required", TERMS_REQUIRED_MESSAGE)
        return None
    terms = r.obj(body, "terms", "terms", _label("terms"))
    if terms is None:
        return None
    for flag, message in _TERMS_FLAGS.items():
        accepted = terms.get(flag)
        if accepted is None or accepted is False:  # not `in (None, False)`: 0 == False
            r.fail(f"terms.{flag}", "terms_not_accepted", message)
        elif accepted is not True:
            r.invalid_type(f"terms.{flag}", title_of(TermsIn, flag))
    values = r.section(terms, TermsIn, "terms")
    broken = {e.field for e in r.errors}
    today = datetime.now(JST).date()
    versions: dict[str, str | None] = {}
    for document in TERMS_DOCUMENTS:
        key = f"{document}_version"
        if f"terms.{key}" in broken:
            versions[key] = None
            continue
        version = values[key] or current_terms(document, today).version
        if (problem := terms_version_problem(document, version, today)) is not None:
            r.fail(f"terms.{key}", *problem)
            versions[key] = None
        else:
            versions[key] = version
    privacy, service = versions["privacy_policy_version"], versions["terms_of_service_version"]
    if privacy is None or service is None:
        return None
    return TermsAcceptance(privacy, service)


def _password(r: BodyReader, body: Mapping[str, Any]) -> str | None:
    # Never trimmed: what is typed is what is hashed. The length is part of the policy.
    password = _top_text(r, body, "password", required=True)
    confirmation = _top_text(r, body, "password_confirmation", required=True)
    if password is None:
        return None
    problems = password_problems(password)
    if problems:
        r.fail("password", "password_policy", password_policy_message(problems))
    if confirmation is not None and confirmation != password:
        r.fail("password_confirmation", PASSWORD_MISMATCH, PASSWORD_MISMATCH_MESSAGE)
    return None if problems else str(password)


def _payment_method(r: BodyReader, body: Mapping[str, Any]) -> None:
    method = r.text(body, "payment_method", "payment_method", _label("payment_method"), select=True)
    if method is not None and method != "prepaid":
        r.fail(
            "payment_method",
            "invalid_payment_method",
            "お支払い方法はプリペイドのみご利用いただけます。",
        )


def _contractor_type(r: BodyReader, body: Mapping[str, Any]) -> ContractorType | None:
    value = r.text(
        body, "contractor_type", "contractor_type", _label("contractor_type"), select=True
    )
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
    c = r.obj(body, "contractor", "contractor", _label("contractor"))
    if c is None:
        return None
    v = r.section(c, ContractorIn, "contractor")
    address = address_of(r, v, "contractor")
    business = contractor_type in ("corporation", "telemarketing")
    email = email_of(r, v, "contractor", business=business, confirm=True)
    names = (v["name"], v["name_kana"])
    if not (all(names) and address and email and v["phone"]):
        return None
    return Contractor(*names, *address, email, v["phone"], v["contact_phone"], v["fax"])


def _corporate_sections(
    r: BodyReader, body: Mapping[str, Any], contractor_type: ContractorType | None
) -> tuple[Representative | None, Contact | None, Contact | None]:
    """The ◆ sections (SPEC §2.2): read for corporations and テレマ; refused for individuals.

    Input is never dropped silently: an individual may leave a ◆ section out (or send the
    form's default, ``{"same_as_contractor": true}``), anything else is ``not_for_individuals``.
    """
    if contractor_type == "individual":
        for key in CORPORATE_ONLY_SECTIONS:
            if not _left_at_default(key, body.get(key)):
                r.fail(
                    key,
                    NOT_FOR_INDIVIDUALS,
                    f"{_label(key)}は法人・テレマ事業者のお客様のみ入力できます。"
                    "個人のお客様は入力しないでください。",
                )
        return None, None, None
    return (
        _representative(r, body, contractor_type),
        _contact(r, body, "usage_contact"),
        _contact(r, body, "billing_contact"),
    )


def _left_at_default(key: str, section: object) -> bool:
    """Absent, null, or (a contact) "same as contractor" with nothing else in it."""
    if section is None:
        return True
    if key == "representative" or not isinstance(section, Mapping):
        return False
    others = (v for k, v in section.items() if k != "same_as_contractor")
    return section.get("same_as_contractor") is True and all(v is None for v in others)


def _representative(
    r: BodyReader, body: Mapping[str, Any], contractor_type: ContractorType | None
) -> Representative | None:
    if body.get("representative") is None:
        if contractor_type is not None:  # with an unknown type we cannot tell if it is needed
            r.fail("representative", "representative_required", REPRESENTATIVE_REQUIRED_MESSAGE)
        return None
    rep = r.obj(body, "representative", "representative", _label("representative"))
    if rep is None:
        return None
    v = r.section(rep, PersonIn, "representative")
    return Representative(v["name"], v["name_kana"]) if v["name"] and v["name_kana"] else None


def _own_section(
    r: BodyReader, body: Mapping[str, Any], key: str, model: type[ContactIn | ShippingAddressIn]
) -> Mapping[str, Any] | None:
    """The section to read field by field (each required), or None for "same as
    contractor" or broken.

    A section "different from the contractor" is read field by field, so one sent without
    its own fields is refused naming each missing one.
    """
    if body.get(key) is None:
        return None  # not chosen: the form's default is "same as contractor"
    label = _label(key)
    section = r.obj(body, key, key, label)
    if section is None:
        return None
    same = section.get("same_as_contractor")
    same_label = f"{label}の{title_of(model, 'same_as_contractor')}"
    if same is None:
        r.required(f"{key}.same_as_contractor", same_label, select=True)
    elif not isinstance(same, bool):
        r.invalid_type(f"{key}.same_as_contractor", same_label)
    elif not same:
        return section
    return None


def _contact(r: BodyReader, body: Mapping[str, Any], key: str) -> Contact | None:
    section = _own_section(r, body, key, ContactIn)
    if section is None:
        return None
    v = r.section(section, ContactIn, key, prefix=f"{_label(key)}の", all_required=True)
    email = email_of(r, v, key, business=False, confirm=False)
    if not (v["name"] and v["name_kana"] and email and v["phone"]):
        return None
    return Contact(v["name"], v["name_kana"], email, v["phone"])


def _shipping_address(r: BodyReader, body: Mapping[str, Any]) -> ShippingAddress | None:
    """A shipping address of its own, read by the shared reader (pbx_kit.jp.address)."""
    key = "shipping_address"
    section = _own_section(r, body, key, ShippingAddressIn)
    if section is None:
        return None
    address = read_address_into(r, section, key, label_prefix=f"{_label(key)}の")
    return None if address is None else ShippingAddress(**address)


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
        return None, [_BODY_NOT_AN_OBJECT]
    r = BodyReader()
    contractor = _contractor(r, body, contractor_type)
    representative, usage, billing = _corporate_sections(r, body, contractor_type)
    shipping = _shipping_address(r, body)
    if r.errors or contractor is None:
        return None, r.errors
    return ContractInfo(contractor, representative, usage, billing, shipping), []
