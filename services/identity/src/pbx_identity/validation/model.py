"""The normalised registration input, as handed to the registration command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from pbx_identity.domain.address import Address

ContractorType = Literal["individual", "corporation", "telemarketing"]
CONTRACTOR_TYPES: tuple[ContractorType, ...] = ("individual", "corporation", "telemarketing")
PaymentMethod = Literal["prepaid"]

CURRENT_TERMS_VERSION = "2024-04-01"


@dataclass(frozen=True)
class TermsAcceptance:
    """Which versions of the privacy policy and the terms of service were accepted."""

    privacy_policy_version: str
    terms_of_service_version: str


@dataclass(frozen=True)
class Contractor:
    """The contractor (契約者) as on the company registry or resident record."""

    name: str
    name_kana: str
    postal_code: str
    prefecture_code: str
    city: str
    city_kana: str
    street: str
    street_kana: str
    email: str
    phone_e164: str  # the screening fixed line (審査用固定番号)
    contact_phone_e164: str | None
    fax_e164: str | None


@dataclass(frozen=True)
class Representative:
    """The representative (代表者) of a corporation or telemarketing business."""

    name: str
    name_kana: str


@dataclass(frozen=True)
class Contact:
    """A usage (使用担当者) or billing (請求担当者) contact different from the contractor."""

    name: str
    name_kana: str
    email: str
    phone_e164: str


#: a shipping address (送付先) different from the contractor's: the domain's one shape
ShippingAddress: TypeAlias = Address


@dataclass(frozen=True)
class RegistrationData:
    """A fully validated registration; None in a contact or address means "same as contractor"."""

    terms: TermsAcceptance
    password: str = field(repr=False)  # in clear, for the caller to hash; never in a repr or log
    contractor_type: ContractorType
    contractor: Contractor
    representative: Representative | None
    usage_contact: Contact | None
    billing_contact: Contact | None
    shipping_address: ShippingAddress | None
    agency_code: str | None
    payment_method: PaymentMethod = "prepaid"
