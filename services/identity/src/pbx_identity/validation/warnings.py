"""Everything to double-check that does not stop a registration or a change (never errors).

A postal code that may not match its prefecture (SPEC §2.2.1), and a screening number
that is not a Japanese fixed line (``fixed_line_recommended``: corporations and テレマ
need one for screening, §3).
"""

from __future__ import annotations

from pbx_kit.jp.errors import FieldError
from pbx_kit.jp.phone import screening_phone_warning
from pbx_kit.jp.postal_lookup import postal_code_warning

from .model import Contractor, RegistrationData, ShippingAddress


def postal_warnings(contractor: Contractor, shipping: ShippingAddress | None) -> list[FieldError]:
    """The postal code warnings of the contractor's address and of a different shipping
    address (``None`` means "same as contractor")."""
    addresses = [("contractor", contractor.postal_code, contractor.prefecture_code)]
    if shipping is not None:
        addresses.append(("shipping_address", shipping.postal_code, shipping.prefecture_code))
    return [
        warning
        for section, code, prefecture in addresses
        if (warning := postal_code_warning(section, code, prefecture)) is not None
    ]


def contract_warnings(contractor: Contractor, shipping: ShippingAddress | None) -> list[FieldError]:
    """The warnings of validated contract info: addresses first, then the screening number."""
    warnings = postal_warnings(contractor, shipping)
    if (phone := screening_phone_warning(contractor.phone_e164)) is not None:
        warnings.append(phone)
    return warnings


def all_registration_warnings(data: RegistrationData) -> list[FieldError]:
    """The warnings of a validated registration."""
    return contract_warnings(data.contractor, data.shipping_address)
