"""E-mail rules: syntax, and the business-address rule for corporations and テレマ."""

from __future__ import annotations

from typing import Literal

from email_validator import EmailNotValidError, validate_email

from ._data import data_entries
from .errors import RuleViolation

EmailDomainClass = Literal["business", "free", "carrier"]

INVALID_EMAIL = "invalid_email"
INVALID_EMAIL_MESSAGE = "メールアドレスを正しく入力してください（半角英数字・記号）。"
BUSINESS_EMAIL_REQUIRED = "business_email_required"
BUSINESS_EMAIL_REQUIRED_MESSAGE = (
    "法人・テレマ事業者のお客様は、会社のドメインのメールアドレスを入力してください。"
    "フリーメールや携帯電話会社のメールアドレスは使用できません。"
)


def normalize_email(value: str) -> str:
    """Return the address with its domain lower-cased (the local part is kept as typed), or raise.

    Only ASCII local parts are accepted: the registration mail goes out over plain SMTP,
    and a full-width character before the @ is almost always an IME slip.
    """
    try:
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise RuleViolation(INVALID_EMAIL, INVALID_EMAIL_MESSAGE) from None
    return result.normalized


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
