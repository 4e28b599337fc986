"""Cheap password hashing for tests (issue 11: one helper instead of a copy per suite).

Argon2id with the production parameters costs ~0.3 s per hash on a small machine; tests
that register or log in often patch the hashing module's ``PasswordHasher`` with argon2's
cheap parameters (the same code paths). argon2-cffi is imported when the helper runs, so
the kit gains no runtime dependency (the services that hash passwords depend on it).
"""

from __future__ import annotations

from types import ModuleType

import pytest


def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> None:
    """Make ``module.PasswordHasher()`` build an argon2id hasher with cheap parameters
    (undone when the test ends, like every ``monkeypatch``)."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        module,
        "PasswordHasher",
        lambda: PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
    )
