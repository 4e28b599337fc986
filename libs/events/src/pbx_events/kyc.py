"""Contracts published by the kyc service (screening, 審査).

No document contents and no personal data: what other services need is whether
an account is screened (fulfillment refuses screened-only items until then).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from pbx_events.contracts import IntegrationEvent, contract

DocumentType = Literal[
    "drivers_license",
    "passport",
    "residence_card",
    "my_number_card",
    "health_insurance_card",
    "residence_certificate",
    "resident_register_card",
    "utility_receipt",
    "corporate_registry",
    "representative_id",
]


@contract
class DocumentUploaded(IntegrationEvent):
    """A document passed the upload checks and joined an account's review."""

    producer = "kyc"
    event_name = "DocumentUploaded"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "review_id": "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "document_id": "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a",
        "document_type": "drivers_license",
        "side": "front",
        "revision": 1,
        "uploaded_at": "2024-04-02T09:00:00+09:00",
    }

    account_id: UUID
    review_id: UUID
    document_id: UUID
    document_type: DocumentType
    side: Literal["front", "back"] | None
    revision: int = Field(ge=1, description="the review's revision the document belongs to")
    uploaded_at: datetime


@contract
class KycSubmitted(IntegrationEvent):
    """An account's documents make a complete set by the rules: it waits for a reviewer."""

    producer = "kyc"
    event_name = "KycSubmitted"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "review_id": "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "revision": 1,
        "submitted_at": "2024-04-02T09:00:01+09:00",
    }

    account_id: UUID
    review_id: UUID
    revision: int = Field(ge=1)
    submitted_at: datetime


@contract
class KycApproved(IntegrationEvent):
    """Screening passed: services that need it may be used until ``valid_until``."""

    producer = "kyc"
    event_name = "KycApproved"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "review_id": "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "revision": 1,
        "approved_at": "2024-04-03T11:00:00+09:00",
        "valid_until": "2027-05-31",
    }

    account_id: UUID
    review_id: UUID
    revision: int = Field(ge=1)
    approved_at: datetime
    valid_until: date | None = Field(
        description="the earliest validity of the approved documents (None: no end)"
    )


@contract
class KycRejected(IntegrationEvent):
    """Screening refused; the customer may resubmit (a new revision)."""

    producer = "kyc"
    event_name = "KycRejected"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "review_id": "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "revision": 1,
        "reasons": ["document_unreadable"],
        "rejected_at": "2024-04-03T11:00:00+09:00",
    }

    account_id: UUID
    review_id: UUID
    revision: int = Field(ge=1)
    reasons: list[str] = Field(description="reason codes for the review")
    rejected_at: datetime


@contract
class KycExpired(IntegrationEvent):
    """An approval ended with the earliest validity of its documents."""

    producer = "kyc"
    event_name = "KycExpired"
    major = 1
    schema_version = "1.0"
    example: ClassVar[dict[str, Any]] = {
        "account_id": "3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11",
        "review_id": "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        "revision": 2,
        "expired_at": "2027-06-01T00:00:00+09:00",
    }

    account_id: UUID
    review_id: UUID
    revision: int = Field(ge=1)
    expired_at: datetime
