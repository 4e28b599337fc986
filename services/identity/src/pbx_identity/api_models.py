"""The documented shapes of identity's request bodies (OpenAPI).

The registration models are the field table of ``validation.schema``: the same
declarations give the OpenAPI its limits and ``validation.validate_registration`` its
rules, so every broken rule is reported at once with its own stable code.
"""

from __future__ import annotations

from pbx_identity.validation.schema import (
    ContactIn,
    ContractorIn,
    PersonIn,
    RegistrationDraftIn,
    RegistrationIn,
    ShippingAddressIn,
    TermsIn,
)

__all__ = [
    "DOCUMENTED",
    "ContactIn",
    "ContractorIn",
    "PersonIn",
    "RegistrationDraftIn",
    "RegistrationIn",
    "ShippingAddressIn",
    "TermsIn",
]

DOCUMENTED = (RegistrationIn, RegistrationDraftIn)
