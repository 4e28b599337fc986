"""Contracts published by the identity service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from pbx_events.contracts import IntegrationEvent, contract

ContractorType = Literal["individual", "corporation", "telemarketing"]
EmailDomainClass = Literal["business", "free", "carrier"]


@contract
class AccountRegistered(IntegrationEvent):
    """A customer account was registered and is active.

    Carries only what other services need to open their side of the account
    (screening, wallet): no password, no name, no address, no e-mail address.
    """

    producer = "identity"
    event_name = "AccountRegistered"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "login_id": "PBX48213907",
        "contractor_type": "individual",
        "email_domain_class": "free",
        "screening_phone_is_fixed_line": True,
        "registered_at": "2024-04-01T09:30:00+09:00",
    }

    account_id: UUID
    login_id: str = Field(min_length=1, max_length=32)
    contractor_type: ContractorType
    email_domain_class: EmailDomainClass = Field(
        description="class of the contact e-mail domain; screening refuses free/carrier mail "
        "for corporations and telemarketing businesses"
    )
    screening_phone_is_fixed_line: bool = Field(
        description="the screening number is a Japanese fixed line (0AB-J)"
    )
    registered_at: datetime


@contract
class AccountInfoChanged(IntegrationEvent):
    """An account's contract info changed (account page). No personal data: consumers
    that need the details read them where they are entitled to."""

    producer = "identity"
    event_name = "AccountInfoChanged"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "contractor_type": "corporation",
        "email_domain_class": "business",
        "changed_at": "2024-04-02T10:00:00+09:00",
    }

    account_id: UUID
    contractor_type: ContractorType
    email_domain_class: EmailDomainClass
    changed_at: datetime


class Address(BaseModel):
    """A shipping address as the cart pre-fills it (送付先)."""

    model_config = ConfigDict(frozen=True)

    name: str
    name_kana: str
    postal_code: str = Field(description="7 digits, or 00000000 overseas")
    prefecture_code: str = Field(description="JIS X 0401 code 01–47, 99 overseas")
    city: str
    city_kana: str
    street: str
    street_kana: str
    phone_e164: str


@contract
class ShippingAddressChanged(IntegrationEvent):
    """Where an account's devices are sent changed (its own address or the contractor's).

    Carries the address: the cart keeps a local copy to pre-fill the shipping step.
    """

    producer = "identity"
    event_name = "ShippingAddressChanged"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "same_as_contractor": False,
        "address": {
            "name": "株式会社サンプル 大阪支店",
            "name_kana": "カブシキガイシャサンプル　オオサカシテン",
            "postal_code": "5300001",
            "prefecture_code": "27",
            "city": "大阪市北区",
            "city_kana": "オオサカシキタク",
            "street": "梅田1-1-1",
            "street_kana": "ウメダ1-1-1",
            "phone_e164": "+81661234567",
        },
        "changed_at": "2024-04-02T10:00:00+09:00",
    }

    account_id: UUID
    same_as_contractor: bool
    address: Address
    changed_at: datetime


@contract
class CircleAdded(IntegrationEvent):
    """A circle (a group with extensions) was added to an account."""

    producer = "identity"
    event_name = "CircleAdded"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "circle_id": "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21",
        "applied_on": "2024-04-02",
    }

    account_id: UUID
    circle_id: UUID
    applied_on: date


@contract
class CircleCancelled(IntegrationEvent):
    """A circle was cancelled (利用中 → 解約済)."""

    producer = "identity"
    event_name = "CircleCancelled"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "circle_id": "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21",
        "cancelled_on": "2024-09-30",
    }

    account_id: UUID
    circle_id: UUID
    cancelled_on: date


@contract
class SessionsEnded(IntegrationEvent):
    """Every session of an account ended (a password change or reset, or "log out
    everywhere"): each service refuses the account's access tokens whose ``ver`` claim is
    below ``token_version``, so a stolen token stops working everywhere, not only at
    identity."""

    producer = "identity"
    event_name = "SessionsEnded"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "token_version": 2,
        "reason": "password_reset",
        "ended_at": "2026-12-07T09:30:00+09:00",
    }

    account_id: UUID
    token_version: int = Field(
        ge=1, description="the account's new token version: tokens with a lower `ver` are refused"
    )
    reason: Literal["password_changed", "password_reset", "logout_everywhere"]
    ended_at: datetime
