"""E-mail rules: syntax, and the business-address rule for corporations and テレマ."""

from __future__ import annotations

import re
from typing import Literal

from email_validator import EmailNotValidError, validate_email

from pbx_kit.jp.errors import RuleViolation

from ._data import data_entries

EmailDomainClass = Literal["business", "free", "carrier"]

INVALID_EMAIL = "invalid_email"
INVALID_EMAIL_MESSAGE = "メールアドレスを正しく入力してください（半角英数字・記号）。"
BUSINESS_EMAIL_REQUIRED = "business_email_required"
BUSINESS_EMAIL_REQUIRED_MESSAGE = (
    "法人・テレマ事業者のお客様は、会社のドメインのメールアドレスを入力してください。"
    "フリーメールや携帯電話会社のメールアドレスは使用できません。"
)


#: a local part the Japanese mobile carriers handed out before they followed RFC 5322
#: (``taro..x.@docomo.ne.jp``: dots doubled, or first or last); still delivered by them
_LEGACY_CARRIER_LOCAL = re.compile(r"\A[A-Za-z0-9._\-]{1,64}\Z")


def normalize_email(value: str) -> str:
    """Return the address with its domain lower-cased (the local part is kept as typed), or raise.

    Only ASCII local parts are accepted: the registration mail goes out over plain SMTP,
    and a full-width character before the @ is almost always an IME slip. A mobile
    carrier's legacy address (dots doubled, first or last before the @) is accepted as it
    is: the carriers still deliver to them (corporations cannot use carrier mail anyway).
    """
    text = value.strip()
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        legacy = _legacy_carrier_address(text)
        if legacy is None:
            raise RuleViolation(INVALID_EMAIL, INVALID_EMAIL_MESSAGE) from None
        return legacy
    return result.normalized


def _legacy_carrier_address(text: str) -> str | None:
    local, at, domain = text.rpartition("@")
    if not at or not _LEGACY_CARRIER_LOCAL.fullmatch(local) or "." not in local:
        return None
    try:
        checked = validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    domain = checked.domain.lower()
    if email_domain_class(f"x@{domain}") != "carrier":
        return None
    return f"{local}@{domain}"


def email_domain_class(email: str) -> EmailDomainClass:
    """Classify a normalised address by domain suffix: free mail, mobile carrier, or business."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    if _matches(domain, data_entries("carrier_mail_domains.txt")):
        return "carrier"
    if _matches(domain, data_entries("free_mail_domains.txt")):
        return "free"
    return "business"


def check_business_email(email: str) -> None:
    """Raise ``business_email_required`` for a free-mail or mobile-carrier address."""
    if email_domain_class(email) != "business":
        raise RuleViolation(BUSINESS_EMAIL_REQUIRED, BUSINESS_EMAIL_REQUIRED_MESSAGE)


def _matches(domain: str, listed: frozenset[str]) -> bool:
    labels = domain.split(".")
    return any(".".join(labels[i:]) in listed for i in range(len(labels)))
