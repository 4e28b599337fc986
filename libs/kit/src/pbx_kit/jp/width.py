"""Character-width folding shared by the rules (never NFKC: it would break kana fields)."""

from __future__ import annotations

import re

_FULLWIDTH_ALNUM = {
    **{0xFF10 + i: 0x30 + i for i in range(10)},  # ０-９
    **{0xFF21 + i: 0x41 + i for i in range(26)},  # Ａ-Ｚ
    **{0xFF41 + i: 0x61 + i for i in range(26)},  # ａ-ｚ
}
_FULLWIDTH_DIGITS = {0xFF10 + i: 0x30 + i for i in range(10)}

# Hyphen look-alikes that are never meaningful in a street reading, postal code or phone number.
HYPHENS = "\uff0d\u2212\u2010\u2011\u2012\u2013\u2014\u2015"
_HYPHEN_TABLE = {ord(c): "-" for c in HYPHENS}

# In digit-only fields an IME often produces the long vowel mark or its half-width form.
_DIGIT_FIELD_HYPHEN_TABLE = {**_HYPHEN_TABLE, 0x30FC: "-", 0xFF70: "-", 0xFE63: "-"}

_SPACES = re.compile("[ \u3000]+")


def fold_alnum(value: str) -> str:
    """Fold full-width ASCII letters and digits to half-width; leave everything else alone."""
    return value.translate(_FULLWIDTH_ALNUM)


def fold_hyphens(value: str) -> str:
    """Fold dash-like characters (not the katakana long vowel ー) to ``-``."""
    return value.translate(_HYPHEN_TABLE)


def fold_digit_field(value: str) -> str:
    """Fold full-width digits and any hyphen look-alike, for postal codes and phone numbers."""
    return value.translate(_FULLWIDTH_DIGITS).translate(_DIGIT_FIELD_HYPHEN_TABLE)


def split_on_spaces(value: str) -> list[str]:
    """Split on runs of ASCII and full-width spaces."""
    return _SPACES.split(value)
