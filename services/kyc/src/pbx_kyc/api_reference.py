"""The document types screening accepts today, with their Japanese names and what each
needs (sides, dates, age), from the rule set in effect: the upload form's choices, so a
gateway hard-codes none of them. Public: it is what the screening page explains."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from pbx_kyc.application import KycService
from pbx_kyc.domain.documents import CARDS, DOCUMENT_NAMES
from pbx_kyc.domain.rules import rule_set_for
from pbx_kyc.rules_file import rule_sets

router = APIRouter(prefix="/reference", tags=["reference data"])

Group = Literal[
    "identity_document", "supporting_document", "address_document", "registry", "representative_id"
]


class DocumentTypeOut(BaseModel):
    document_type: str = Field(description="the value of document_type at upload")
    name: str = Field(description="its Japanese name")
    card: bool = Field(description="a card: upload each side (side=front|back)")
    sides_for_individuals: list[str]
    sides_for_representatives: list[str]
    refused_sides: list[str] = Field(description="never upload these (the My Number back)")
    requires_expiry: bool = Field(description="expires_on must be given")
    requires_issue_date: bool = Field(description="issued_on must be given")
    max_age_months: int | None = Field(description="issued within this many months")
    valid_through: date | None = Field(
        description="every document of this type stops counting after this day"
    )
    groups: list[Group] = Field(
        description=(
            "identity_document: one alone completes an individual's set; supporting_document: "
            "two different ones do; address_document: goes with a passport without address; "
            "registry / representative_id: corporations and テレマ"
        )
    )


class DocumentTypesOut(BaseModel):
    rule_set_version: str
    effective_from: date
    supporting_documents_needed: int
    document_types: list[DocumentTypeOut]
    refused_types: dict[str, str] = Field(
        description="types known and refused, with their Japanese names (国際運転免許証…)"
    )


@router.get("/document-types", response_model=DocumentTypesOut)
def document_types(request: Request) -> DocumentTypesOut:
    """The document types accepted today (types no longer accepted are left out)."""
    app: KycService = request.app.state.application
    today = app.today()
    rules = rule_set_for(today, rule_sets())
    groups: dict[str, list[Group]] = {}
    for group, types in (
        ("identity_document", rules.individual.one_document_ids),
        ("supporting_document", rules.individual.supporting_documents),
        ("address_document", rules.individual.address_documents),
        ("registry", (rules.corporate.registry_document,)),
        ("representative_id", rules.corporate.representative_ids),
    ):
        for document_type in types:
            groups.setdefault(document_type, []).append(group)  # type: ignore[arg-type]
    return DocumentTypesOut(
        rule_set_version=rules.version,
        effective_from=rules.effective_from,
        supporting_documents_needed=rules.individual.supporting_documents_needed,
        document_types=[
            DocumentTypeOut(
                document_type=rule.document_type,
                name=DOCUMENT_NAMES[rule.document_type],
                card=rule.document_type in CARDS,
                sides_for_individuals=list(rule.sides_for("individual")),
                sides_for_representatives=list(rule.sides_for("representative")),
                refused_sides=sorted(rule.refused_sides),
                requires_expiry=rule.requires_expiry,
                requires_issue_date=rule.requires_issue_date,
                max_age_months=rule.max_age_months,
                valid_through=rule.expired_after.expired_after if rule.expired_after else None,
                groups=groups.get(rule.document_type, []),
            )
            for rule in rules.documents.values()
            if not rule.withdrawn_on(today)
        ],
        refused_types=dict(rules.refused_types),
    )
