"""An address section (送付先・配送先) read with registration's rules and Japanese messages.

One implementation for every service: identity's registration reads its shipping address
(``shipping_address``) with :func:`read_address_into`, the cart its 配送先 with
:func:`read_address`. Every field is required; the values are normalised as identity's
``Address`` holds them (postal code of 7 digits or 00000000, JIS prefecture code, kana
widened, phone as E.164).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from .body import BodyReader
from .errors import FieldError
from .fields import City, Kana, Name, Phone, PostalCode, Prefecture, Street, StreetKana, address_of
from .postal_lookup import postal_code_warning

#: the label before each field's title in messages: 「送付先の宛名を入力してください。」
DEFAULT_LABEL_PREFIX = "送付先の"

#: the keys of a normalised address, as identity's ``Address`` has them
ADDRESS_KEYS = (
    "name",
    "name_kana",
    "postal_code",
    "prefecture_code",
    "city",
    "city_kana",
    "street",
    "street_kana",
    "phone_e164",
)


class AddressIn(BaseModel):
    """送付先の住所: 各項目が必須。"""

    name: Name = Field(title="宛名")
    name_kana: Kana = Field(title="フリガナ")
    postal_code: PostalCode = Field(title="郵便番号")
    prefecture: Prefecture = Field(title="都道府県")
    city: City = Field(title="市区町村")
    city_kana: Kana = Field(title="市区町村フリガナ")
    street: Street = Field(title="番地・建物名")
    street_kana: StreetKana = Field(title="番地・建物名フリガナ")
    phone: Phone = Field(title="電話番号")


def _section_path(field_prefix: str) -> str:
    return field_prefix.rstrip(".")


def read_address_into(
    r: BodyReader,
    section: Mapping[str, Any],
    path: str,
    *,
    label_prefix: str = DEFAULT_LABEL_PREFIX,
) -> dict[str, str] | None:
    """Read an address section's fields into ``r`` (its errors are recorded there).

    ``path`` is the section's path in the body ("shipping_address"; "" for a bare
    address). Returns the normalised address (keys :data:`ADDRESS_KEYS`), or None when
    any field is absent or broken.
    """
    v = r.section(section, AddressIn, path, prefix=label_prefix, all_required=True)
    parts = address_of(r, v, path)
    if not (v["name"] and v["name_kana"] and parts and v["phone"]):
        return None
    return dict(zip(ADDRESS_KEYS, (v["name"], v["name_kana"], *parts, v["phone"]), strict=True))


def read_address(
    section: Mapping[str, Any],
    *,
    field_prefix: str = "",
    label_prefix: str = DEFAULT_LABEL_PREFIX,
) -> tuple[dict[str, Any] | None, list[FieldError], list[FieldError]]:
    """Read an address section: ``(address, errors, warnings)``.

    ``address`` is the normalised address (keys name, name_kana, postal_code,
    prefecture_code, city, city_kana, street, street_kana, phone_e164) when there are no
    errors, else None. ``errors`` are as registration reports them for
    ``shipping_address.*`` (field path, stable code, Japanese message); every field is
    required. ``warnings`` (``postal_code_prefecture_mismatch``, ``postal_code_not_found``)
    never stop the address: they ask the customer to double-check.

    ``field_prefix`` is the section's path in the body, put before each field's name
    ("shipping_address" or "shipping_address." give ``shipping_address.postal_code``;
    "" gives ``postal_code``). ``label_prefix`` goes before each field's title in the
    messages (「送付先の郵便番号を入力してください。」).

    An overseas address (postal code 00000000 with 海外) is valid here; whether it can be
    shipped to is the caller's rule.
    """
    path = _section_path(field_prefix)
    if not isinstance(section, Mapping):
        label = label_prefix.removesuffix("の") or "住所"
        return None, [FieldError(path, "invalid_type", f"{label}の形式が正しくありません。")], []
    r = BodyReader()
    address = read_address_into(r, section, path, label_prefix=label_prefix)
    if address is None:
        return None, r.errors, []
    warning = postal_code_warning(path, address["postal_code"], address["prefecture_code"])
    return address, [], [] if warning is None else [warning]
