"""Postal code versus prefecture: a mismatch warns, never fails (SPEC §2.2.1).

The first three digits of a Japanese postal code name a delivery region, and Japan Post
assigned those regions prefecture by prefecture, so they tell which prefecture(s) a code is
used in. A few prefixes cross a prefecture border (木曽岬町 of 三重県 has 498-08xx, which
otherwise is 愛知県), so the shipped table lists every prefecture a prefix is used in and a
code is only doubted when its prefecture is not among them. Unknown prefixes and the
overseas sentinel never warn: this check must not cry wolf.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

from .errors import FieldError
from .model import Contractor, RegistrationData, ShippingAddress
from .postal import is_overseas_postal_code
from .prefectures import OVERSEAS_PREFECTURE_CODE, PREFECTURES, is_overseas_prefecture

POSTAL_PREFIXES_FILE = "postal_prefixes.txt"

POSTAL_CODE_PREFECTURE_MISMATCH = "postal_code_prefecture_mismatch"
POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE = (
    "郵便番号と都道府県が一致していない可能性があります。ご確認ください。"
)

_DOMESTIC_PREFECTURE_CODES = frozenset(
    code for code, _ in PREFECTURES if code != OVERSEAS_PREFECTURE_CODE
)
_DOMESTIC_POSTAL_CODE = re.compile(r"\A[0-9]{7}\Z")  # not \d: that also matches non-ASCII digits
_TABLE_LINE = re.compile(
    r"\A(?P<first>[0-9]{3})(?:-(?P<last>[0-9]{3}))?(?P<codes>(?:\s+[0-9]{2})+)\Z"
)


def parse_postal_prefix_table(text: str) -> Mapping[str, frozenset[str]]:
    """Parse the prefix table: ``NNN c…`` or ``NNN-NNN c…`` per line, ``#`` starts a comment.

    Raises ``ValueError`` (with the line number) for a malformed line, a reversed range, the
    prefix 000, a code that is not one of the 47 prefectures, or a prefix listed twice.
    """
    table: dict[str, frozenset[str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _TABLE_LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"line {number}: expected 'NNN[-NNN] CC [CC…]', got {raw!r}")
        first = int(match.group("first"))
        last = int(match.group("last") or match.group("first"))
        if last < first:
            raise ValueError(f"line {number}: range {first:03d}-{last:03d} is reversed")
        if first == 0:
            raise ValueError(f"line {number}: 000 is not a postal code prefix")
        codes = frozenset(match.group("codes").split())
        unknown = sorted(codes - _DOMESTIC_PREFECTURE_CODES)
        if unknown:
            raise ValueError(f"line {number}: unknown prefecture code(s) {', '.join(unknown)}")
        for value in range(first, last + 1):
            prefix = f"{value:03d}"
            if prefix in table:
                raise ValueError(f"line {number}: prefix {prefix} is already listed")
            table[prefix] = codes
    return MappingProxyType(table)


@cache
def postal_prefix_table() -> Mapping[str, frozenset[str]]:
    """Return the shipped prefix table (``data/postal_prefixes.txt``), read once."""
    data_dir = resources.files("pbx_identity.validation").joinpath("data")
    text = data_dir.joinpath(POSTAL_PREFIXES_FILE).read_text(encoding="utf-8")
    return parse_postal_prefix_table(text)


def prefectures_for_postal_code(code: str) -> frozenset[str]:
    """Return the prefecture codes a normalised 7-digit postal code's prefix is used in.

    Empty for the overseas sentinel ``00000000``, for anything that is not 7 ASCII digits
    and for a prefix the table does not know.
    """
    if is_overseas_postal_code(code) or not _DOMESTIC_POSTAL_CODE.fullmatch(code):
        return frozenset()
    return postal_prefix_table().get(code[:3], frozenset())


def postal_code_matches_prefecture(code: str, prefecture_code: str) -> bool:
    """Tell whether a postal code plausibly belongs to a prefecture (two-digit code).

    True whenever the answer is not known to be "no": overseas code or prefecture 海外
    (their pairing is an error rule of its own), an unknown prefix, or a malformed code.
    """
    if is_overseas_postal_code(code) or is_overseas_prefecture(prefecture_code):
        return True
    prefectures = prefectures_for_postal_code(code)
    return not prefectures or prefecture_code in prefectures


def registration_warnings(data: RegistrationData) -> list[FieldError]:
    """Return the postal code warnings of a validated registration (never errors)."""
    return postal_warnings(data.contractor, data.shipping_address)


def postal_warnings(contractor: Contractor, shipping: ShippingAddress | None) -> list[FieldError]:
    """Return the postal code warnings of the contractor's and shipping address (never errors).

    The contractor's address is checked, and the shipping address when it differs from the
    contractor's (``None`` means "same as contractor").
    """
    warnings: list[FieldError] = []
    addresses = [("contractor", contractor.postal_code, contractor.prefecture_code)]
    if shipping is not None:
        addresses.append(("shipping_address", shipping.postal_code, shipping.prefecture_code))
    for section, postal_code, prefecture_code in addresses:
        if not postal_code_matches_prefecture(postal_code, prefecture_code):
            warnings.append(
                FieldError(
                    field=f"{section}.postal_code",
                    code=POSTAL_CODE_PREFECTURE_MISMATCH,
                    message=POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE,
                )
            )
    return warnings
