"""Identity's domain errors (mapped to problem+json by the kit's single handler)."""

from __future__ import annotations

from pbx_kit.problems import DomainError, FieldProblem, NotFoundError, RuleViolationError


class EmailTakenError(DomainError):
    """Raised when the e-mail address already belongs to an account."""

    code = "email_taken"
    status = 409
    message_ja = "このメールアドレスは既に登録されています。"

    def __init__(self) -> None:
        super().__init__(
            errors=[FieldProblem("contractor.email", self.code, self.message_ja)],
        )


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


class InvalidResetTokenError(RuleViolationError):
    """Raised when a password-reset token is unknown, expired or already used."""

    code = "invalid_reset_token"
    message_ja = (
        "パスワード再設定用のURLが無効か、有効期限（30分）が切れています。"
        "もう一度お手続きください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])


class AccountNotFoundError(NotFoundError):
    """Raised when the caller's account does not exist (or is not theirs to see)."""

    code = "account_not_found"
    message_ja = "アカウントが見つかりません。"


class CircleNotFoundError(NotFoundError):
    """Raised when the caller's account has no such circle."""

    code = "circle_not_found"
    message_ja = "指定されたサークルが見つかりません。"


class InvalidEmailChangeTokenError(RuleViolationError):
    """Raised when an e-mail confirmation token is unknown, wrong, replaced by a newer
    request or cancelled."""

    code = "invalid_email_change_token"
    message_ja = (
        "メールアドレス確認用のURLが無効です。より新しい確認メールが届いている場合は"
        "そちらのURLをご利用ください。解決しない場合は、アカウントページからもう一度"
        "メールアドレスの変更をお手続きください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])


class EmailChangeTokenExpiredError(RuleViolationError):
    """Raised when an e-mail confirmation token is past its lifetime (24 hours)."""

    code = "email_change_token_expired"
    message_ja = (
        "メールアドレス確認用のURLの有効期限（24時間）が切れています。"
        "アカウントページからもう一度メールアドレスの変更をお手続きください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])


class EmailChangeAlreadyConfirmedError(DomainError):
    """Raised when an e-mail confirmation token's change has already been applied."""

    code = "email_change_already_confirmed"
    status = 409
    message_ja = "このメールアドレスの変更は既に完了しています。"

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])
