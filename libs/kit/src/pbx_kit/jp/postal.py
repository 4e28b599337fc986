"""Postal code (郵便番号) rules: 7 half-width digits, or the overseas sentinel 00000000."""

from __future__ import annotations

import re

from .errors import RuleViolation
from .prefectures import is_overseas_prefecture, prefecture_code
from .width import fold_digit_field

OVERSEAS_POSTAL_CODE = "00000000"

_DOMESTIC = re.compile(r"\A[0-9]{7}\Z")  # not \d: that also matches non-ASCII digits
_HYPHENATED = re.compile(r"\A([0-9]{3})-([0-9]{4})\Z")

INVALID_POSTAL_CODE = "invalid_postal_code"
INVALID_POSTAL_CODE_MESSAGE = (
    "郵便番号はハイフンなしの半角数字7桁で入力してください（海外の場合は00000000）。"
)
OVERSEAS_MISMATCH_MESSAGE = "郵便番号00000000は都道府県で「海外」を選択した場合のみ使用できます。"
DOMESTIC_MISMATCH_MESSAGE = "都道府県が「海外」の場合、郵便番号は00000000を入力してください。"


def normalize_postal_code(value: str, prefecture: str | None = None) -> str:
    """Return the 7-digit postal code (or 00000000 for overseas), or raise.

    Full-width digits and hyphen look-alikes are folded, a leading 〒 is dropped and
    ``NNN-NNNN`` loses its hyphen. When ``prefecture`` (name or code) is given, the
    overseas sentinel and 海外 must go together; an unknown prefecture is not judged here.
    """
    text = fold_digit_field(value.strip()).removeprefix("〒").strip()
    hyphenated = _HYPHENATED.fullmatch(text)
    if hyphenated:
        text = hyphenated.group(1) + hyphenated.group(2)
    if text != OVERSEAS_POSTAL_CODE and not (
        _DOMESTIC.fullmatch(text) and not text.startswith("000")
    ):
        raise RuleViolation(INVALID_POSTAL_CODE, INVALID_POSTAL_CODE_MESSAGE)
    if prefecture is not None:
        _check_against_prefecture(text, prefecture)
    return text


def is_overseas_postal_code(code: str) -> bool:
    """Tell whether a normalised postal code is the overseas sentinel."""
    return code == OVERSEAS_POSTAL_CODE


def _check_against_prefecture(code: str, prefecture: str) -> None:
    try:
        overseas_prefecture = is_overseas_prefecture(prefecture_code(prefecture))
    except RuleViolation:
        return
    if is_overseas_postal_code(code) and not overseas_prefecture:
        raise RuleViolation(INVALID_POSTAL_CODE, OVERSEAS_MISMATCH_MESSAGE)
    if overseas_prefecture and not is_overseas_postal_code(code):
        raise RuleViolation(INVALID_POSTAL_CODE, DOMESTIC_MISMATCH_MESSAGE)
