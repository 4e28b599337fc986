"""Contracts published by the identity service."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

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
