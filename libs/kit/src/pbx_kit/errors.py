"""The one error hierarchy the domain raises, free of any web framework.

Every refusal a customer or a reviewer can meet is a ``DomainError`` subclass
carrying its stable ``code``, its HTTP ``status``, a ``title`` and the Japanese
``message_ja`` shown as ``detail``; ``errors`` lists field problems for input
errors. ``pbx_kit.problems`` turns any of them into problem+json, so a domain
module (``pbx_<service>.domain``) raises the final error itself and nothing
translates it on the way out. This module imports only the standard library:
it is the one kit module a domain module may import (import-linter contract).

One rule for refusals: a command that breaks a rule raises; an event delivered
again that no longer applies is a no-op (the aggregate records nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ConflictError",
    "DomainError",
    "FieldProblem",
    "NotFoundError",
    "RuleViolationError",
]


@dataclass(frozen=True)
class FieldProblem:
    """One input field's problem: ``field`` is a dotted path (``contractor.email``)."""

    field: str
    code: str
    message: str


class DomainError(Exception):
    """Raised when a command breaks a rule; subclasses set a stable code and a status."""

    code = "domain_error"
    status = 409
    title = "Conflict"
    message_ja = "処理を完了できませんでした。"
    #: extra response headers (e.g. ``WWW-Authenticate`` on a 401)
    headers: Mapping[str, str] | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Sequence[FieldProblem] = (),
        **details: object,
    ) -> None:
        super().__init__(message or self.message_ja)
        self.message = message or self.message_ja
        self.errors = list(errors)
        self.details = details


class NotFoundError(DomainError):
    """Raised when an id names nothing the caller may see (404)."""

    code = "not_found"
    status = 404
    title = "Not Found"
    message_ja = "指定されたデータが見つかりません。"


class ConflictError(DomainError):
    """Raised when a command conflicts with the current state (409)."""

    code = "conflict"
    status = 409
    title = "Conflict"


class RuleViolationError(DomainError):
    """Raised when the input breaks a field rule (422, stores nothing)."""

    code = "validation_failed"
    status = 422
    title = "Unprocessable Content"
    message_ja = "入力内容に誤りがあります。"
