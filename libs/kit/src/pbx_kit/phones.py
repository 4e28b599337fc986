"""Japanese fixed-line numbers (0AB-J): what screening accepts as a business's phone.

Shared by identity (the registration's screening number) and kyc (a corporation's
fixed phone given with its documents).
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType

# National prefixes that are never a fixed line (0AB-J), whatever the metadata says:
# M2M, IP, mobile/PHS, free dial, navi dial, premium, and other non-geographic services.
NON_FIXED_LINE_PREFIXES = (
    "020",
    "050",
    "060",
    "070",
    "080",
    "090",
    "0120",
    "0800",
    "0570",
    "0990",
    "0180",
    "0170",
    "0910",
)


def is_japanese_fixed_line(number: PhoneNumber) -> bool:
    """A valid Japanese geographic number of 10 digits (市外局番から始まる固定電話)."""
    national = "0" + phonenumbers.national_significant_number(number)
    return (
        number.country_code == 81
        and phonenumbers.number_type(number) == PhoneNumberType.FIXED_LINE
        and len(national) == 10
        and not national.startswith(NON_FIXED_LINE_PREFIXES)
    )


def parse_japanese_fixed_line(text: str) -> str | None:
    """The number as E.164 when ``text`` is a Japanese fixed line, else None."""
    if len(text) > 40:
        return None
    try:
        number = phonenumbers.parse(text, "JP")
    except NumberParseException:
        return None
    if number.extension or not phonenumbers.is_valid_number(number):
        return None
    if not is_japanese_fixed_line(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
