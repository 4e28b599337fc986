"""Phone number rules: parse as Japanese numbers, store E.164, show the national format."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from pbx_kit.phones import is_japanese_fixed_line

from .errors import FieldError, RuleViolation
from .width import fold_digit_field

_MAX_INPUT_LENGTH = 32
_FOLD_SYMBOLS = str.maketrans({"＋": "+", "（": "(", "）": ")", "\u3000": " "})
_ALLOWED = re.compile(r"\A\+?[0-9() -]+\Z")  # '+' only in front, as in +81 3 1234 5678

INVALID_PHONE = "invalid_phone"
INVALID_PHONE_MESSAGE = (
    "電話番号を正しく入力してください（半角数字、+、括弧、ハイフン、スペースが使用できます）。"
)
FIXED_LINE_RECOMMENDED = "fixed_line_recommended"
FIXED_LINE_RECOMMENDED_MESSAGE = (
    "審査用固定番号が日本の固定電話番号（市外局番から始まる10桁）ではありません。"
    "このまま登録できますが、法人・テレマ事業者のお客様の審査には固定電話番号が必要です"
    "（携帯電話・IP電話・フリーダイヤル・海外の番号は審査用の固定電話になりません）。"
)


def normalize_phone(value: str) -> str:
    """Return any valid number as E.164 (read as Japanese unless it has + or 010), or raise."""
    return _e164(_parse_valid(value))


def normalize_screening_phone(value: str) -> str:
    """Return the screening number (審査用固定番号) as E.164, or raise ``invalid_phone``.

    Any valid number is accepted (SPEC §2.2.1): Japanese fixed, mobile, IP or service
    numbers, and international ones with ``+``; one that is not a Japanese fixed line
    only warns (``screening_phone_warning``).
    """
    return normalize_phone(value)


def is_fixed_line_e164(e164: str) -> bool:
    """Whether a stored (E.164) number is a Japanese fixed line (0AB-J, 10 digits)."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return False
    return is_japanese_fixed_line(number)


def screening_phone_warning(e164: str, field: str = "contractor.phone") -> FieldError | None:
    """The warning ``fixed_line_recommended`` for a screening number that is no fixed line."""
    if is_fixed_line_e164(e164):
        return None
    return FieldError(field, FIXED_LINE_RECOMMENDED, FIXED_LINE_RECOMMENDED_MESSAGE)


def format_national(e164: str) -> str:
    """Format a stored E.164 number for display: 03-1234-5678, or +1 212-555-1234 abroad."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        raise RuleViolation(INVALID_PHONE, INVALID_PHONE_MESSAGE) from None
    if number.country_code == 81:
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def _parse_valid(value: str) -> PhoneNumber:
    text = fold_digit_field(value.translate(_FOLD_SYMBOLS)).strip()
    if len(text) > _MAX_INPUT_LENGTH or not _ALLOWED.fullmatch(text):
        raise RuleViolation(INVALID_PHONE, INVALID_PHONE_MESSAGE)
    try:
        number = phonenumbers.parse(text, "JP")
    except NumberParseException:
        raise RuleViolation(INVALID_PHONE, INVALID_PHONE_MESSAGE) from None
    if number.extension or not phonenumbers.is_valid_number(number):
        raise RuleViolation(INVALID_PHONE, INVALID_PHONE_MESSAGE)
    return number


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
