"""Everything to double-check that does not stop a registration or a change (never errors).

A postal code that may not match its prefecture (SPEC §2.2.1), and a screening number
that is not a Japanese fixed line (``fixed_line_recommended``: corporations and テレマ
need one for screening, §3).
"""

from __future__ import annotations

from .errors import FieldError
from .model import Contractor, RegistrationData, ShippingAddress
from .phone import screening_phone_warning
from .postal_lookup import postal_warnings


def contract_warnings(contractor: Contractor, shipping: ShippingAddress | None) -> list[FieldError]:
    """The warnings of validated contract info: addresses first, then the screening number."""
    warnings = postal_warnings(contractor, shipping)
    if (phone := screening_phone_warning(contractor.phone_e164)) is not None:
        warnings.append(phone)
    return warnings


def all_registration_warnings(data: RegistrationData) -> list[FieldError]:
    """The warnings of a validated registration."""
    return contract_warnings(data.contractor, data.shipping_address)
