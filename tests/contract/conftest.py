"""Fixtures for the contract tests: cheap password hashing for identity's application.

Argon2id with the production parameters costs ~0.3 s per hash; the contract tests build
identity's application often, so it hashes with cheap parameters (the same code paths).
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "pbx_identity.application.PasswordHasher",
        lambda: PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
    )
