"""The auth refusals, each problem+json through the DomainError handler (401, 403, 503)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pbx_kit.problems import DomainError


class UnauthorizedError(DomainError):
    """No usable ``Authorization: Bearer`` header (401)."""

    code = "unauthorized"
    status = 401
    title = "Unauthorized"
    message_ja = "認証が必要です。ログインしてください。"
    headers: Mapping[str, str] | None = MappingProxyType({"WWW-Authenticate": "Bearer"})


class InvalidTokenError(UnauthorizedError):
    """A bearer token that is not a valid, current access token (401), whatever the reason."""

    code = "invalid_token"
    message_ja = "認証情報が無効です。再度ログインしてください。"
    headers: Mapping[str, str] | None = MappingProxyType(
        {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )

    def __init__(self, reason: str = "invalid") -> None:
        super().__init__()
        #: why (for logs and tests only; never sent to the client)
        self.reason = reason


class ForbiddenError(DomainError):
    """The caller is authenticated but has none of the roles a route needs (403)."""

    code = "forbidden"
    status = 403
    title = "Forbidden"
    message_ja = "この操作を行う権限がありません。"


class AuthUnavailableError(DomainError):
    """No verification keys could be obtained (identity's JWKS unreachable) (503)."""

    code = "auth_unavailable"
    status = 503
    title = "Service Unavailable"
    message_ja = "認証サービスに接続できません。時間をおいて再度お試しください。"
