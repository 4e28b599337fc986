"""Commands of the identity service: one frozen dataclass per use case."""

from __future__ import annotations

from dataclasses import dataclass

from pbx_identity.validation.model import RegistrationData


@dataclass(frozen=True)
class RegisterAccount:
    registration: RegistrationData
