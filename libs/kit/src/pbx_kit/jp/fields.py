"""The field table of an address (住所): each text field's rule, length and description.

Every type here is a pydantic ``Annotated`` declaration carrying a ``Read`` marker: models
are built from them (so the OpenAPI shows these limits) and the reader in ``body.py``
enforces them (so the limits shown are the limits applied). Codes and Japanese messages
come from the rule functions; the cross-field check of an address (overseas postal code
and prefecture) follows. Identity's registration and the cart's shipping address
(配送先) both read their addresses by this table.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from pydantic import Field

from .body import BodyReader, Read
from .kana import normalize_name_kana, normalize_street_kana
from .phone import normalize_phone
from .postal import is_overseas_postal_code, normalize_postal_code
from .prefectures import is_overseas_prefecture, prefecture_code

NAME_MAX, CITY_MAX, STREET_MAX, PHONE_MAX = 100, 100, 200, 32
POSTAL_CODE_MAX = PREFECTURE_MAX = 16

OVERSEAS_MISMATCH_MESSAGE = (
    "郵便番号が00000000（海外）の場合は都道府県で「海外」を、"
    "国内の郵便番号の場合は47都道府県のいずれかを選択してください。"
)

_KANA = "フリガナ: 全角カタカナ（半角カナは全角に、空白は全角空白に正規化）または半角英数字"
PHONE_DESCRIPTION = "半角数字・+・括弧・ハイフン・空白。有効な電話番号であること（E.164で保存）"

Name = Annotated[str, Field(max_length=NAME_MAX), Read(free_text=True)]
Kana = Annotated[str, Field(max_length=NAME_MAX, description=_KANA), Read(normalize_name_kana)]
PostalCode = Annotated[
    str,
    Field(
        max_length=POSTAL_CODE_MAX,
        description="半角数字7桁（ハイフンなし。全角・ハイフン付きは正規化）。海外は 00000000",
        examples=["1350064"],
    ),
    Read(normalize_postal_code),
]
Prefecture = Annotated[
    str,
    Field(
        max_length=PREFECTURE_MAX,
        description="都道府県名（47都道府県）または海外",
        examples=["東京都"],
    ),
    Read(prefecture_code, select=True),
]
City = Annotated[str, Field(max_length=CITY_MAX), Read(free_text=True)]
Street = Annotated[str, Field(max_length=STREET_MAX), Read(free_text=True)]
StreetKana = Annotated[
    str,
    Field(max_length=STREET_MAX, description="カタカナと半角英数字・ハイフン・空白"),
    Read(normalize_street_kana),
]
Phone = Annotated[
    str, Field(max_length=PHONE_MAX, description=PHONE_DESCRIPTION), Read(normalize_phone)
]


class PostalParts(NamedTuple):
    """The postal part of a section's address, checked (the reader's intermediate)."""

    postal_code: str
    prefecture_code: str
    city: str
    city_kana: str
    street: str
    street_kana: str


def address_of(r: BodyReader, values: dict[str, Any], section: str) -> PostalParts | None:
    """The section's address; an overseas postal code and 海外 go together.

    ``values`` are what ``BodyReader.section`` read (postal_code, prefecture, city,
    city_kana, street, street_kana; None where broken or absent); ``section`` is the
    section's path ("" for a bare address).
    """
    postal, pref = values["postal_code"], values["prefecture"]
    if postal and pref and is_overseas_postal_code(postal) != is_overseas_prefecture(pref):
        path = f"{section}.prefecture" if section else "prefecture"
        r.fail(path, "invalid_prefecture", OVERSEAS_MISMATCH_MESSAGE)
        return None
    parts = (postal, pref, *(values[k] for k in ("city", "city_kana", "street", "street_kana")))
    return PostalParts(*parts) if all(parts) else None
