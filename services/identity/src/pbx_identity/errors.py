"""Identity's domain errors (mapped to problem+json by the kit's single handler)."""

from __future__ import annotations

from pbx_kit.problems import DomainError, FieldProblem, RuleViolationError


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
