"""Furigana (フリガナ) rules: full-width katakana, half-width alphanumerics, or both mixed
(a company's reading often has Latin letters: NTTドコモ).

Normalising composes voiced marks and widens half-width katakana, but never
uses NFKC, which would turn the full-width space into an ASCII one.
"""

from __future__ import annotations

import re
import unicodedata

import jaconv

from .errors import RuleViolation
from .width import fold_alnum, fold_hyphens, split_on_spaces

_KATAKANA_CHARS = "\u30a1-\u30f6\u30fc\u30fb"
_NAME_KATAKANA = re.compile(f"\\A[{_KATAKANA_CHARS}\u3000]+\\Z")
_NAME_ALNUM = re.compile(r"\A[0-9A-Za-z ]+\Z")
#: a company's reading may mix katakana words and Latin letters (ＮＴＴ → NTTドコモ)
_NAME_MIXED = re.compile(f"\\A[{_KATAKANA_CHARS}\u30000-9A-Za-z ]+\\Z")
_STREET = re.compile(f"\\A[{_KATAKANA_CHARS}\u3000" r"0-9A-Za-z \-]+\Z")
_STREET_HAS_READING = re.compile(f"[{_KATAKANA_CHARS}0-9A-Za-z]")
_KATAKANA_CHAR = re.compile(f"[{_KATAKANA_CHARS}]")
# An IME often types the long vowel mark for the hyphen of a block number (2ー7ー4); after a
# digit it can never be a long vowel, so between two digits it is read as the hyphen.
_LONG_VOWEL_BETWEEN_DIGITS = re.compile(r"(?<=[0-9])\u30fc(?=[0-9])")

# Spacing voiced marks (゛゜ and half-width ﾞﾟ) typed after a kana become combining marks,
# which NFC then composes with the kana before them (カ゛ -> ガ).
_SPACING_MARKS = {0x309B: "\u3099", 0xFF9E: "\u3099", 0x309C: "\u309a", 0xFF9F: "\u309a"}

INVALID_KANA = "invalid_kana"
NAME_KANA_MESSAGE = "フリガナは全角カタカナまたは半角英数字で入力してください。"
STREET_KANA_MESSAGE = (
    "番地・建物名のフリガナは全角カタカナ、半角英数字、ハイフン（-）、スペースで入力してください。"
)
REQUIRED_MESSAGE = "フリガナを入力してください。"


def _compose(value: str) -> str:
    """Trim, widen half-width katakana, compose voiced marks and fold full-width alnum."""
    text = value.strip()
    if not text:
        raise RuleViolation("required", REQUIRED_MESSAGE)
    text = jaconv.h2z(text, kana=True, ascii=False, digit=False)  # ｶﾞ -> ガ in one step
    text = unicodedata.normalize("NFC", text.translate(_SPACING_MARKS))
    return fold_alnum(text)


def normalize_name_kana(value: str) -> str:
    """Normalise the furigana of a name, company, representative or city, or raise.

    Returns full-width katakana (words separated by U+3000), half-width alphanumerics
    (words separated by one ASCII space), or both mixed (U+3000 between two katakana
    words, one ASCII space otherwise).
    """
    words = split_on_spaces(_compose(value))
    katakana = "\u3000".join(words)
    if _NAME_KATAKANA.fullmatch(katakana):
        return katakana
    alnum = " ".join(words)
    if _NAME_ALNUM.fullmatch(alnum):
        return alnum
    mixed = _join_words(words)
    if _NAME_MIXED.fullmatch(mixed):
        return mixed
    raise RuleViolation(INVALID_KANA, NAME_KANA_MESSAGE)


def _join_words(words: list[str]) -> str:
    """Words joined by U+3000 between two katakana, by one ASCII space otherwise."""
    text = words[0]
    for word in words[1:]:
        between_kana = _KATAKANA_CHAR.fullmatch(text[-1]) and _KATAKANA_CHAR.fullmatch(word[0])
        text += ("\u3000" if between_kana else " ") + word
    return text


def normalize_street_kana(value: str) -> str:
    """Normalise the furigana of a street and building (katakana mixed with 0-9, A-Z, -), or raise.

    A space between two katakana becomes U+3000; any other space is one ASCII space.
    """
    text = _LONG_VOWEL_BETWEEN_DIGITS.sub("-", fold_hyphens(_compose(value)))
    text = _join_words(split_on_spaces(text))
    if _STREET.fullmatch(text) and _STREET_HAS_READING.search(text):
        return text
    raise RuleViolation(INVALID_KANA, STREET_KANA_MESSAGE)
