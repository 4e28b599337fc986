"""Fixtures for the contract tests: cheap password hashing for identity's application.

Argon2id with the production parameters costs ~0.3 s per hash; the contract tests build
identity's application often, so it hashes with cheap parameters (the same code paths).
"""

from __future__ import annotations

import pytest

import pbx_identity.application
from pbx_kit import testing_passwords


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    testing_passwords.cheap_password_hashing(monkeypatch, pbx_identity.application)
