"""The account page: contract info and circles (SPEC §2.5). A customer sees only their own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from pbx_identity.api import WarningOut, warnings_out
from pbx_identity.application import IdentityService
from pbx_identity.commands import ChangeContractInfo
from pbx_identity.domain.account import Account
from pbx_identity.errors import RegistrationInvalidError
from pbx_identity.validation.registration import validate_contract_info
from pbx_identity.validation.warnings import contract_warnings
from pbx_identity.views import input_of, own_or_same, person_view
from pbx_kit.auth import Caller, require_roles
from pbx_kit.problems import FieldProblem, problem_responses

router = APIRouter(tags=["account page"])

CustomerDep = Annotated[Caller, Depends(require_roles("customer"))]
_NOT_FOUND = problem_responses(
    401,
    403,
    404,
    s401="not logged in",
    s403="not a customer login",
    s404="no such account or circle (of the caller's)",
)


def get_app(request: Request) -> IdentityService:
    app: IdentityService = request.app.state.application
    return app


IdentityServiceDep = Annotated[IdentityService, Depends(get_app)]


# -- shapes ------------------------------------------------------------------------


class AccountOut(BaseModel):
    account_id: UUID
    login_id: str
    status: str
    contractor_type: str
    payment_method: str
    contractor: dict[str, Any]
    representative: dict[str, Any] | None
    usage_contact: dict[str, Any]
    billing_contact: dict[str, Any]
    shipping_address: dict[str, Any]
    agency_code: str | None
    terms: dict[str, str]
    registered_at: datetime | None
    version: int
    pending_email: str | None = Field(
        None,
        description=(
            "変更手続き中の新しいメールアドレス: 新しいアドレスに届いた確認URLから確認されるまで、"
            "contractor.email（ログイン・通知の宛先）は変わりません"
        ),
    )
    pending_email_expires_at: datetime | None = Field(
        None, description="変更手続き中のメールアドレスを確認できる期限"
    )


class AccountChangeOut(AccountOut):
    """The account after the change; ``warnings`` say what has not applied yet."""

    warnings: list[WarningOut] = Field(
        [],
        description=(
            "code email_confirmation_pending: the new e-mail address applies once confirmed "
            "from the link mailed to it (see pending_email); fixed_line_recommended: the "
            "screening number is no Japanese fixed line; postal_code_prefecture_mismatch"
        ),
    )


#: the PATCH's warning when it asked for a new e-mail address
EMAIL_PENDING_WARNING = WarningOut(
    field="contractor.email",
    code="email_confirmation_pending",
    message=(
        "新しいメールアドレスに確認メールを送信しました。メール内のURLから24時間以内に"
        "確認を完了すると、メールアドレスが変更されます。それまでは現在のメールアドレスが"
        "ご利用いただけます。"
    ),
)


class ContractInfoPatch(BaseModel):
    """Sections to change; a section given replaces that section (contractor: per field)."""

    model_config = ConfigDict(strict=True)

    contractor: dict[str, Any] | None = None
    representative: dict[str, Any] | None = None
    usage_contact: dict[str, Any] | None = None
    billing_contact: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None


def account_out(account: Account) -> AccountOut:
    contractor = person_view(account.contractor)
    pending = account.pending_email_change
    if pending is not None and not pending.open_at(datetime.now(UTC)):
        pending = None
    return AccountOut(
        account_id=account.id,
        login_id=account.login_id,
        status=account.status,
        contractor_type=account.contractor_type,
        payment_method=account.payment_method,
        contractor=contractor,
        representative=account.representative,
        usage_contact=own_or_same(account.usage_contact),
        billing_contact=own_or_same(account.billing_contact),
        shipping_address=own_or_same(account.shipping_address),
        agency_code=account.agency_code,
        terms=account.terms,
        registered_at=account.created_on,
        version=account.version,
        pending_email=pending.new_email if pending else None,
        pending_email_expires_at=pending.expires_at if pending else None,
    )


def _merged_input(account: Account, patch: ContractInfoPatch) -> dict[str, Any]:
    contractor = input_of(account.contractor)
    contractor.pop("same_as_contractor")
    contractor["email_confirmation"] = contractor["email"]
    if patch.contractor is not None:
        contractor.update(patch.contractor)
    body: dict[str, Any] = {
        "contractor": contractor,
        "representative": account.representative,
        "usage_contact": input_of(account.usage_contact),
        "billing_contact": input_of(account.billing_contact),
        "shipping_address": input_of(account.shipping_address),
    }
    for section in ("representative", "usage_contact", "billing_contact", "shipping_address"):
        value = getattr(patch, section)
        if value is not None:
            body[section] = value
    return body


# -- routes ------------------------------------------------------------------------------


@router.get("/accounts/me", response_model=AccountOut, responses=_NOT_FOUND)
def read_my_account(caller: CustomerDep, app: IdentityServiceDep) -> AccountOut:
    """The caller's contract info (never the password hash)."""
    return account_out(app.my_account(caller.subject_uuid))


@router.patch(
    "/accounts/me",
    response_model=AccountChangeOut,
    responses=_NOT_FOUND | problem_responses(409, s409="email_taken: another account has it"),
)
def change_my_account(
    caller: CustomerDep,
    app: IdentityServiceDep,
    patch: Annotated[ContractInfoPatch, Body()],
) -> AccountChangeOut:
    """Change contract info, contacts or shipping address; every SPEC §2.2 rule applies again.

    A new ``contractor.email`` does not apply at once: a link goes to the new address (the
    change applies when it is used, POST /accounts/email-confirmation) and a notice to the
    current one; the answer shows it as ``pending_email`` with a warning. The other
    changes apply at once. ``account_id``, ``contractor_type``, ``status``, ``roles`` and
    the like are ignored: only the sections above can change here.
    """
    account = app.my_account(caller.subject_uuid)
    info, errors = validate_contract_info(
        _merged_input(account, patch),
        account.contractor_type,  # type: ignore[arg-type]
    )
    if errors or info is None:
        raise RegistrationInvalidError(
            "入力内容に誤りがあります。各項目をご確認ください。",
            errors=[FieldProblem(e.field, e.code, e.message) for e in errors],
        )
    changed = app.change_contract_info(ChangeContractInfo(caller.subject_uuid, info))
    email_requested = info.contractor.email.lower() != account.email.lower()
    warnings = [EMAIL_PENDING_WARNING] if email_requested else []
    warnings += warnings_out(contract_warnings(info.contractor, info.shipping_address))
    return AccountChangeOut(**account_out(changed).model_dump(), warnings=warnings)


class ChangeOut(BaseModel):
    version: int
    change: str
    at: datetime


@router.get("/accounts/me/history", response_model=list[ChangeOut], responses=_NOT_FOUND)
def my_account_history(caller: CustomerDep, app: IdentityServiceDep) -> list[ChangeOut]:
    """Every change of the account, oldest first (what and when; never the contents)."""
    return [
        ChangeOut(version=v, change=c, at=at)
        for v, c, at in app.account_history(caller.subject_uuid)
    ]
