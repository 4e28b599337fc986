"""Identity's HTTP routes: body -> command -> application -> response."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, Field

from pbx_identity.api_models import RegistrationDraftIn, RegistrationIn
from pbx_identity.application import IdentityService
from pbx_identity.commands import RegisterAccount
from pbx_identity.errors import RegistrationInvalidError
from pbx_identity.validation.model import RegistrationData
from pbx_identity.validation.registration import (
    ValidatedDraft,
    invalid_step,
    validate_draft,
    validate_registration,
)
from pbx_identity.validation.warnings import all_registration_warnings, contract_warnings
from pbx_identity.views import own_or_same, person_view, stored
from pbx_kit.app import schema_ref
from pbx_kit.jp.errors import FieldError
from pbx_kit.problems import FieldProblem, problem_responses

router = APIRouter(tags=["accounts"])

REGISTRATION_EXAMPLE: dict[str, Any] = {
    "terms": {"privacy_policy_accepted": True, "terms_of_service_accepted": True},
    "password": "Ky7#mPz!qR",
    "password_confirmation": "Ky7#mPz!qR",
    "payment_method": "prepaid",
    "contractor_type": "individual",
    "contractor": {
        "name": "山田 太郎",
        "name_kana": "ヤマダ タロウ",
        "postal_code": "1350064",
        "prefecture": "東京都",
        "city": "江東区",
        "city_kana": "コウトウク",
        "street": "青海2-7-4",
        "street_kana": "アオミ2-7-4",
        "email": "taro@example.co.jp",
        "email_confirmation": "taro@example.co.jp",
        "phone": "03-1234-5678",
        "contact_phone": None,
        "fax": None,
    },
    "representative": None,
    "usage_contact": {"same_as_contractor": True},
    "billing_contact": {"same_as_contractor": True},
    "shipping_address": {"same_as_contractor": True},
    "agency_code": None,
}

#: read raw, so every broken rule is reported with its own code; documented by api_models
RegistrationBody = Annotated[dict[str, Any], Body(include_in_schema=False)]

_CONFLICT = problem_responses(409, s409="Conflict (e.g. email_taken)")


class WarningOut(BaseModel):
    """Something to double-check that does not stop the registration."""

    field: str
    code: str
    message: str


class RegisteredOut(BaseModel):
    account_id: UUID
    login_id: str
    warnings: list[WarningOut] = []


class TermsOut(BaseModel):
    privacy_policy_version: str
    terms_of_service_version: str


class NormalizedOut(BaseModel):
    """入力内容の確認: the values as they will be stored and shown on the account page
    (prefecture name and code, phones in national and E.164 form, kana and widths folded).
    Parts the checked step does not cover are null."""

    terms: TermsOut | None = Field(description="accepted versions (step terms, or whole)")
    contractor_type: Literal["individual", "corporation", "telemarketing"] | None
    payment_method: Literal["prepaid"] | None
    contractor: dict[str, Any] | None
    representative: dict[str, Any] | None
    usage_contact: dict[str, Any] | None
    billing_contact: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    agency_code: str | None


class ValidatedOut(BaseModel):
    valid: Literal[True] = True
    step: str | None
    warnings: list[WarningOut] = []
    normalized: NormalizedOut = Field(
        description="what was checked, normalised: build the confirmation screen (確認) from it"
    )


def warnings_out(warnings: list[FieldError]) -> list[WarningOut]:
    return [WarningOut(field=w.field, code=w.code, message=w.message) for w in warnings]


def _warnings(data: RegistrationData | None) -> list[WarningOut]:
    """postal_code_prefecture_mismatch, fixed_line_recommended (the screening number)."""
    return [] if data is None else warnings_out(all_registration_warnings(data))


def normalized_out(draft: ValidatedDraft) -> NormalizedOut:
    contract = draft.contract
    return NormalizedOut(
        terms=TermsOut(**dataclasses.asdict(draft.terms)) if draft.terms else None,
        contractor_type=draft.contractor_type,
        payment_method="prepaid" if contract is not None else None,
        contractor=person_view(dataclasses.asdict(contract.contractor)) if contract else None,
        representative=stored(contract.representative) if contract else None,
        usage_contact=own_or_same(stored(contract.usage_contact)) if contract else None,
        billing_contact=own_or_same(stored(contract.billing_contact)) if contract else None,
        shipping_address=own_or_same(stored(contract.shipping_address)) if contract else None,
        agency_code=draft.agency_code,
    )


def get_app(request: Request) -> IdentityService:
    app: IdentityService = request.app.state.application
    return app


IdentityServiceDep = Annotated[IdentityService, Depends(get_app)]


def _refuse(errors: list[FieldError]) -> RegistrationInvalidError:
    """The 422 of a registration body: every broken rule in ``errors[]``."""
    return RegistrationInvalidError(
        "入力内容に誤りがあります。各項目をご確認ください。",
        errors=[FieldProblem(e.field, e.code, e.message) for e in errors],
    )


@router.post(
    "/accounts",
    status_code=201,
    response_model=RegisteredOut,
    openapi_extra=schema_ref(RegistrationIn),
    responses=_CONFLICT,
)
def register_account(body: RegistrationBody, app: IdentityServiceDep) -> RegisteredOut:
    """Register an account (個人・法人・テレマ); the login ID is issued by the system."""
    data, errors = validate_registration(body)
    if errors or data is None:
        raise _refuse(errors)
    registered = app.register_account(RegisterAccount(registration=data))
    return RegisteredOut(
        account_id=registered.account_id, login_id=registered.login_id, warnings=_warnings(data)
    )


@router.post(
    "/accounts/validate",
    status_code=200,
    response_model=ValidatedOut,
    openapi_extra=schema_ref(RegistrationDraftIn),
    responses=_CONFLICT,
)
def validate_account_draft(body: RegistrationBody) -> ValidatedOut:
    """Validate a registration draft, whole or one step (terms | customer_info); stores nothing.
    The answer carries the normalised values for the confirmation screen, and the warnings."""
    step = body.get("step")
    if step_errors := invalid_step(step):
        raise _refuse(step_errors)
    draft, errors = validate_draft(body, step=step)
    if errors or draft is None:
        raise _refuse(errors)
    warnings = (
        []
        if draft.contract is None
        else warnings_out(
            contract_warnings(draft.contract.contractor, draft.contract.shipping_address)
        )
    )
    return ValidatedOut(step=step, warnings=warnings, normalized=normalized_out(draft))
