"""Identity's errors (mapped to problem+json by the kit's single handler).

The aggregates' own refusals are raised by the domain (``pbx_identity.domain``)
and re-exported here; this module adds the ones of the application and the API.
"""

from __future__ import annotations

from pbx_identity.domain.account import CircleNotFoundError as CircleNotFoundError
from pbx_identity.domain.account import EmailTakenError as EmailTakenError
from pbx_identity.domain.account import ServiceNotFoundError as ServiceNotFoundError
from pbx_identity.domain.email_change import (
    EmailChangeAlreadyConfirmedError as EmailChangeAlreadyConfirmedError,
)
from pbx_identity.domain.email_change import (
    EmailChangeTokenExpiredError as EmailChangeTokenExpiredError,
)
from pbx_identity.domain.email_change import (
    InvalidEmailChangeTokenError as InvalidEmailChangeTokenError,
)
from pbx_identity.domain.reminder import InvalidResetTokenError as InvalidResetTokenError
from pbx_kit.errors import DomainError, NotFoundError, RuleViolationError


class RegistrationInvalidError(RuleViolationError):
    """Raised when a registration (or one step of it) breaks a field rule."""

    code = "validation_failed"


class LoginIdExhaustedError(DomainError):
    """Raised when no free login ID was found after many tries (never in practice)."""

    code = "login_id_unavailable"
    status = 503
    message_ja = "ただいま混み合っています。しばらくしてから再度お試しください。"


class InvalidCredentialsError(DomainError):
    """Raised when a login ID and password do not match (the same for an unknown ID)."""

    code = "invalid_credentials"
    status = 401
    title = "Unauthorized"
    message_ja = "ログインIDまたはパスワードが正しくありません。"


class LoginThrottledError(DomainError):
    """Raised when too many failed logins ask the caller to wait."""

    code = "too_many_attempts"
    status = 429
    title = "Too Many Requests"
    message_ja = "ログインの試行回数が多すぎます。しばらく時間をおいてから再度お試しください。"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class InvalidRefreshTokenError(DomainError):
    """Raised when a refresh token is unknown, expired, revoked or was already used."""

    code = "invalid_refresh_token"
    status = 401
    title = "Unauthorized"
    message_ja = "セッションの有効期限が切れました。再度ログインしてください。"


class AccountNotFoundError(NotFoundError):
    """Raised when the caller's account does not exist (or is not theirs to see)."""

    code = "account_not_found"
    message_ja = "アカウントが見つかりません。"
