"""A postal address with its recipient and phone: where devices are sent (送付先).

The one shape of an address in the domain. A contractor's section carries the same
fields (with more besides), so its address is read from it; events keep plain dicts
(``as_dict``), so what is stored does not depend on this class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Address:
    name: str
    name_kana: str
    #: 7 digits, or 00000000 overseas
    postal_code: str
    #: JIS X 0401 code 01–47, 99 overseas
    prefecture_code: str
    city: str
    city_kana: str
    street: str
    street_kana: str
    phone_e164: str

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> Address:
        """The address in a section's fields (a contractor's, a shipping address's or an
        event's dict); fields that are not the address's are left out."""
        return cls(**{f.name: str(fields[f.name]) for f in dataclasses.fields(cls)})

    def as_dict(self) -> dict[str, str]:
        """The fields as a plain dict (how events store an address)."""
        return dataclasses.asdict(self)
