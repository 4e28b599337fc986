"""FastAPI dependencies: the bearer scheme, ``current_caller``, ``require_roles``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from pbx_kit.auth.claims import Caller, check_roles
from pbx_kit.auth.errors import ForbiddenError, InvalidTokenError, UnauthorizedError
from pbx_kit.auth.verification import TokenVerifier

log = structlog.get_logger("pbx.auth")


def install_auth(app: FastAPI, verifier: TokenVerifier) -> None:
    """Make ``verifier`` the one the auth dependencies of ``app`` use."""
    app.state.token_verifier = verifier


def _verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("install_auth(app, verifier) was not called")
    return verifier


#: how OpenAPI documents the token (a generated client sends ``Authorization: Bearer``);
#: the header itself is read and judged below, so every refusal is our problem+json
bearer_scheme = HTTPBearer(
    bearerFormat="JWT",
    scheme_name="bearerAuth",
    description="An access token from identity's `POST /identity/auth/token` "
    "(EdDSA JWT, 15 minutes).",
    auto_error=False,
)
_Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _bearer_token(request: Request) -> str | None:
    """The bearer token, None without an ``Authorization`` header; malformed -> 401."""
    values = request.headers.getlist("authorization")
    if not values:
        return None
    parts = values[0].split()
    if len(values) > 1 or len(parts) != 2 or parts[0].lower() != "bearer":
        raise UnauthorizedError()
    return parts[1]


async def _session_floor(request: Request, caller: Caller) -> int:
    edge = getattr(request.app.state, "edge", None)
    floors = getattr(edge, "session_floors", None)
    if floors is None:
        return 0
    return int(await floors.floor(caller.subject))


async def current_caller(request: Request, _credentials: _Bearer = None) -> Caller:
    """Dependency: the verified caller (401 without a valid bearer token, or with one
    issued before the account's sessions ended: a password reset, "log out everywhere")."""
    token = _bearer_token(request)
    if token is None:
        raise UnauthorizedError()
    verifier = _verifier(request)
    # in a worker thread: a JWKS refetch or identity's own revocation check may block
    caller = await anyio.to_thread.run_sync(verifier.verify, token)
    if caller.token_version < await _session_floor(request, caller):
        log.info("token_rejected", reason="sessions ended")
        raise InvalidTokenError("sessions ended")
    request.state.caller = caller
    return caller


async def optional_caller(request: Request, _credentials: _Bearer = None) -> Caller | None:
    """Dependency: the caller, or None without an ``Authorization`` header (a bad one is 401)."""
    if not request.headers.getlist("authorization"):
        return None
    return await current_caller(request)


CurrentCaller = Annotated[Caller, Depends(current_caller)]
OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]


def require_roles(*roles: str) -> Callable[..., Caller]:
    """Dependency factory: the caller if they have any of ``roles`` (401, else 403)."""
    wanted = frozenset(check_roles(roles))

    def dependency(caller: CurrentCaller) -> Caller:
        if wanted.isdisjoint(caller.roles):
            raise ForbiddenError()
        return caller

    dependency.__name__ = "require_" + "_or_".join(sorted(wanted))
    return dependency
