"""Pure input rules for account registration (SPEC §2.2, §2.2.1): no I/O but the shipped lists."""

from pbx_kit.jp.errors import FieldError, RuleViolation
from pbx_kit.jp.kana import normalize_name_kana, normalize_street_kana
from pbx_kit.jp.phone import format_national, normalize_phone, normalize_screening_phone
from pbx_kit.jp.postal import OVERSEAS_POSTAL_CODE, is_overseas_postal_code, normalize_postal_code
from pbx_kit.jp.prefectures import PREFECTURES, prefecture_code, prefecture_name

from .email import check_business_email, email_domain_class, normalize_email
from .model import (
    CURRENT_TERMS_VERSION,
    Contact,
    Contractor,
    ContractorType,
    RegistrationData,
    Representative,
    ShippingAddress,
    TermsAcceptance,
)
from .password import PasswordPolicyViolation, check_password, password_problems
from .registration import validate_registration

__all__ = [
    "CURRENT_TERMS_VERSION",
    "OVERSEAS_POSTAL_CODE",
    "PREFECTURES",
    "Contact",
    "Contractor",
    "ContractorType",
    "FieldError",
    "PasswordPolicyViolation",
    "RegistrationData",
    "Representative",
    "RuleViolation",
    "ShippingAddress",
    "TermsAcceptance",
    "check_business_email",
    "check_password",
    "email_domain_class",
    "format_national",
    "is_overseas_postal_code",
    "normalize_email",
    "normalize_name_kana",
    "normalize_phone",
    "normalize_postal_code",
    "normalize_screening_phone",
    "normalize_street_kana",
    "password_problems",
    "prefecture_code",
    "prefecture_name",
    "validate_registration",
]
