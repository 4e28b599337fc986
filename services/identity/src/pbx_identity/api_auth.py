"""Identity's login routes: tokens, refresh, logout, JWKS, password reminder and reset."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

import anyio
import structlog
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from pbx_identity.application import IdentityService
from pbx_identity.commands import (
    LogIn,
    LogOut,
    RefreshSession,
    RequestPasswordReminder,
    ResetPassword,
)
from pbx_identity.errors import (
    InvalidCredentialsError,
    LoginThrottledError,
    RegistrationInvalidError,
)
from pbx_identity.throttle import LoginThrottle
from pbx_identity.validation.password import check_password
from pbx_kit.auth import CurrentCaller
from pbx_kit.jp.errors import RuleViolation
from pbx_kit.problems import FieldProblem, problem_responses

log = structlog.get_logger("pbx.identity.auth")

router = APIRouter(tags=["auth"])

_UNAUTHORIZED = problem_responses(401, s401="invalid credentials or token")
_LOGIN = problem_responses(401, 429, s401="invalid credentials", s429="too many failed logins")


#: a login ID has no control characters (a NUL cannot even be stored in PostgreSQL)
LOGIN_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class LoginIn(BaseModel):
    model_config = ConfigDict(strict=True)

    login_id: str = Field(
        min_length=1, max_length=64, pattern=LOGIN_ID_PATTERN, examples=["PBX48213907"]
    )
    password: str = Field(min_length=1, max_length=256)


class RefreshIn(BaseModel):
    model_config = ConfigDict(strict=True)

    refresh_token: str = Field(min_length=1, max_length=512)


class LogoutIn(BaseModel):
    model_config = ConfigDict(strict=True)

    refresh_token: str | None = Field(None, max_length=512)
    #: end every session and make every token issued so far invalid
    everywhere: bool = False


class ReminderIn(BaseModel):
    model_config = ConfigDict(strict=True)

    login_id: str = Field(min_length=1, max_length=64, pattern=LOGIN_ID_PATTERN)


class ResetIn(BaseModel):
    model_config = ConfigDict(strict=True)

    token: str = Field(min_length=1, max_length=512)
    password: str = Field(max_length=256)
    password_confirmation: str = Field(max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    refresh_token: str


class AcceptedOut(BaseModel):
    status: Literal["accepted"] = "accepted"


def get_app(request: Request) -> IdentityService:
    app: IdentityService = request.app.state.application
    return app


def get_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


IdentityServiceDep = Annotated[IdentityService, Depends(get_app)]
ThrottleDep = Annotated[LoginThrottle, Depends(get_throttle)]


def client_address(request: Request) -> str:
    """The caller's address: the peer, or X-Forwarded-For's last hop when the peer is a
    trusted proxy (the gateway)."""
    peer = request.client.host if request.client else "unknown"
    trusted: frozenset[str] = getattr(request.app.state, "trusted_proxies", frozenset())
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in trusted:
        candidate = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            return peer
    return peer


@router.post("/auth/token", response_model=TokenOut, responses=_LOGIN)
async def log_in(
    body: LoginIn, request: Request, app: IdentityServiceDep, throttle: ThrottleDep
) -> TokenOut:
    """Log in with login ID and password; wrong and unknown IDs look the same."""
    address = client_address(request)
    wait = await throttle.retry_after(body.login_id, address)
    if wait > 0:
        log.info("login_throttled", login_id=body.login_id, client=address, retry_after=wait)
        raise LoginThrottledError(wait)
    try:
        tokens = await anyio.to_thread.run_sync(app.log_in, LogIn(body.login_id, body.password))
    except InvalidCredentialsError:
        await throttle.failed(body.login_id, address)
        log.info("login_failed", login_id=body.login_id, client=address)
        raise
    await throttle.succeeded(body.login_id, address)
    log.info("login_succeeded", client=address)
    return TokenOut(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


@router.post("/auth/refresh", response_model=TokenOut, responses=_UNAUTHORIZED)
def refresh(body: RefreshIn, app: IdentityServiceDep) -> TokenOut:
    """Trade a refresh token for new tokens (rotation; a reused token ends its session)."""
    tokens = app.refresh_session(RefreshSession(body.refresh_token))
    return TokenOut(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


@router.post("/auth/logout", status_code=204, response_class=Response, responses=_UNAUTHORIZED)
def log_out(body: LogoutIn, caller: CurrentCaller, app: IdentityServiceDep) -> Response:
    """End this session (its refresh token), or every session and token (everywhere)."""
    app.log_out(LogOut(caller.subject_uuid, body.refresh_token, body.everywhere))
    return Response(status_code=204)


@router.get("/.well-known/jwks.json")
def jwks(request: Request) -> dict[str, Any]:
    """The public keys that verify access tokens (more than one while keys rotate)."""
    result: dict[str, Any] = request.app.state.key_ring.jwks()
    return result


@router.post("/auth/password-reminder", status_code=202, response_model=AcceptedOut)
def password_reminder(body: ReminderIn, app: IdentityServiceDep) -> AcceptedOut:
    """Mail a one-time reset URL to the account's address; never says whether the ID exists."""
    app.request_password_reminder(RequestPasswordReminder(body.login_id))
    return AcceptedOut()


@router.post("/auth/password-reset", status_code=204, response_class=Response)
def password_reset(body: ResetIn, app: IdentityServiceDep) -> Response:
    """Set a new password with the token from the reminder mail; ends every session."""
    try:
        check_password(body.password, body.password_confirmation)
    except RuleViolation as exc:
        field = "password_confirmation" if exc.code == "password_mismatch" else "password"
        raise RegistrationInvalidError(
            exc.message, errors=[FieldProblem(field, exc.code, exc.message)]
        ) from None
    app.reset_password(ResetPassword(body.token, body.password))
    return Response(status_code=204)
