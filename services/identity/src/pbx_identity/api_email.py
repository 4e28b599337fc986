"""Changing the account's e-mail address: the new address confirms it, or the owner drops it.

``PATCH /accounts/me`` with a new ``contractor.email`` records the request and mails a
link to the new address; the change applies only through the link's token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from pbx_identity.application import IdentityService
from pbx_identity.commands import CancelEmailChange, ConfirmEmailChange
from pbx_kit.auth import Caller, require_roles
from pbx_kit.problems import problem_responses

router = APIRouter(tags=["account page"])

CustomerDep = Annotated[Caller, Depends(require_roles("customer"))]


def get_app(request: Request) -> IdentityService:
    app: IdentityService = request.app.state.application
    return app


IdentityServiceDep = Annotated[IdentityService, Depends(get_app)]


class EmailConfirmationIn(BaseModel):
    model_config = ConfigDict(strict=True)

    token: str = Field(
        min_length=1, max_length=512, description="確認メールのURLの token パラメータ"
    )


_CONFIRMATION = problem_responses(
    409,
    422,
    s409=(
        "email_change_already_confirmed: this link's change was already applied; "
        "email_taken: another account took the address meanwhile (nothing changed)"
    ),
    s422=(
        "invalid_email_change_token: unknown, wrong, replaced by a newer request or "
        "cancelled; email_change_token_expired: older than 24 hours (nothing changed)"
    ),
)
_OWN = problem_responses(401, 403, 404, s401="not logged in", s403="not a customer login")


@router.post(
    "/accounts/email-confirmation",
    status_code=204,
    response_class=Response,
    responses=_CONFIRMATION,
)
def confirm_email_change(body: EmailConfirmationIn, app: IdentityServiceDep) -> Response:
    """Apply a pending e-mail change with the token mailed to the new address (no login
    needed); the old address is told. Works once, for 24 hours, for the newest request."""
    app.confirm_email_change(ConfirmEmailChange(body.token))
    return Response(status_code=204)


@router.delete(
    "/accounts/me/pending-email", status_code=204, response_class=Response, responses=_OWN
)
def cancel_my_email_change(caller: CustomerDep, app: IdentityServiceDep) -> Response:
    """Drop the caller's pending e-mail change (its link stops working); none: no-op."""
    app.cancel_email_change(CancelEmailChange(caller.subject_uuid))
    return Response(status_code=204)
