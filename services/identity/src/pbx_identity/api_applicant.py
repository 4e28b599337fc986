"""What a reviewer compares the documents against: the applicant's registered name, address
and phone (SPEC §3). Reviewers only; every read is logged (who, whose), never the values."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from pbx_identity.api_account import IdentityServiceDep
from pbx_kit.auth import Caller, require_roles
from pbx_kit.jp.phone import format_national, is_fixed_line_e164
from pbx_kit.jp.prefectures import prefecture_name
from pbx_kit.problems import problem_responses

router = APIRouter(tags=["screening"])
log = structlog.get_logger("pbx.identity.applicant")

ReviewerDep = Annotated[Caller, Depends(require_roles("reviewer"))]
_REVIEWER = problem_responses(
    401, 403, 404, s403="not a reviewer login", s404="no such customer account"
)


class RegisteredPersonOut(BaseModel):
    name: str
    name_kana: str


class ApplicantOut(BaseModel):
    """登録内容（審査用）: the contract as registered, to compare with the documents."""

    account_id: UUID
    contractor_type: Literal["individual", "corporation", "telemarketing"]
    name: str = Field(description="契約者名（個人は氏名、法人・テレマは会社名）")
    name_kana: str = Field(description="フリガナ")
    representative: RegisteredPersonOut | None = Field(description="代表者（法人・テレマのみ）")
    postal_code: str
    prefecture: str
    city: str
    city_kana: str
    street: str
    street_kana: str
    phone: str = Field(description="審査用の電話番号（国内表記）")
    phone_e164: str
    phone_is_fixed_line: bool = Field(description="日本の固定電話番号かどうか")


@router.get("/accounts/{account_id}/applicant", response_model=ApplicantOut, responses=_REVIEWER)
def read_applicant(account_id: UUID, caller: ReviewerDep, app: IdentityServiceDep) -> ApplicantOut:
    """The applicant's registered name, address and screening phone (reviewers only;
    each read is logged with the reviewer's id)."""
    account = app.my_account(account_id)
    contractor = account.contractor
    log.info(
        "applicant_read",
        reviewer_id=caller.subject,
        account_id=str(account_id),
        purpose="kyc_review",
    )
    representative = account.representative
    return ApplicantOut(
        account_id=account.id,
        contractor_type=account.contractor_type,  # type: ignore[arg-type]
        name=contractor["name"],
        name_kana=contractor["name_kana"],
        representative=RegisteredPersonOut(
            name=representative["name"], name_kana=representative["name_kana"]
        )
        if representative
        else None,
        postal_code=contractor["postal_code"],
        prefecture=prefecture_name(contractor["prefecture_code"]),
        city=contractor["city"],
        city_kana=contractor["city_kana"],
        street=contractor["street"],
        street_kana=contractor["street_kana"],
        phone=format_national(contractor["phone_e164"]),
        phone_e164=contractor["phone_e164"],
        phone_is_fixed_line=is_fixed_line_e164(contractor["phone_e164"]),
    )
