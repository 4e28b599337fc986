"""Error values of the Japanese input rules (registration, shipping addresses)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One broken rule of a request body, as it goes into problem+json ``errors[]``."""

    field: str  # dotted path as in the JSON body, e.g. "contractor.name_kana"; "" is the body
    code: str  # stable machine code, e.g. "invalid_kana"
    message: str  # Japanese message for the user


class RuleViolation(Exception):
    """Raised when a single input value breaks a rule; carries the code and a Japanese message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
