"""Phone number rules: parse as Japanese numbers, store E.164, show the national format."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from pbx_kit.phones import is_japanese_fixed_line

from ._width import fold_digit_field
from .errors import RuleViolation

_MAX_INPUT_LENGTH = 32
_FOLD_SYMBOLS = str.maketrans({"＋": "+", "（": "(", "）": ")", "\u3000": " "})
_ALLOWED = re.compile(r"\A\+?[0-9() -]+\Z")  # '+' only in front, as in +81 3 1234 5678

INVALID_PHONE = "invalid_phone"
INVALID_PHONE_MESSAGE = (
    "電話番号を正しく入力してください（半角数字、+、括弧、ハイフン、スペースが使用できます）。"
)
FIXED_LINE_REQUIRED = "fixed_line_required"
FIXED_LINE_REQUIRED_MESSAGE = (
    "審査用固定番号には固定電話番号（市外局番から始まる10桁）を入力してください。"
    "携帯電話・IP電話・フリーダイヤル等は使用できません。"
)


def normalize_phone(value: str) -> str:
    """Return any valid number as E.164 (read as Japanese unless it has + or 010), or raise."""
    return _e164(_parse_valid(value))


def normalize_screening_phone(value: str) -> str:
    """Return a Japanese fixed-line number (0AB-J, 10 digits) as E.164, or raise.

    Mobile, IP, M2M, free dial, navi dial and premium numbers raise ``fixed_line_required``.
    """
    number = _parse_valid(value)
    if not is_japanese_fixed_line(number):
        raise RuleViolation(FIXED_LINE_REQUIRED, FIXED_LINE_REQUIRED_MESSAGE)
    return _e164(number)


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
