"""A login session: the family of refresh tokens issued since one login.

Refresh tokens are opaque and stored only as hashes. Each refresh rotates
the token; presenting a token that was already rotated away means it was
copied, so the whole family is revoked (reuse detection). A session also
ends when the owner's token version moves on (password change, logout-all).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from eventsourcing.domain import Aggregate, event


class RefreshOutcome(Enum):
    ROTATED = "rotated"
    REUSED = "reused"  # a rotated-away token: the family is now revoked
    INVALID = "invalid"  # unknown token, expired, revoked or outdated: nothing changes


class Session(Aggregate):
    class Started(Aggregate.Created):
        subject_id: str
        token_hash: str
        expires_at: datetime
        token_version: int

    @event(Started)
    def __init__(
        self,
        subject_id: str,
        token_hash: str,
        expires_at: datetime,
        token_version: int,
    ) -> None:
        self.subject_id = subject_id
        self.token_hash = token_hash
        self.expires_at = expires_at
        self.token_version = token_version
        self.used_hashes: list[str] = []
        self.revoked_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_reason is None

    def refresh(
        self,
        presented_hash: str,
        new_hash: str,
        new_expiry: datetime,
        now: datetime,
        current_token_version: int,
    ) -> RefreshOutcome:
        """Rotate on the current token; revoke the family on a reused one."""
        if not self.active:
            return RefreshOutcome.INVALID
        if presented_hash in self.used_hashes:
            self._revoked("reuse_detected")
            return RefreshOutcome.REUSED
        if presented_hash != self.token_hash:
            return RefreshOutcome.INVALID
        if now >= self.expires_at or current_token_version != self.token_version:
            return RefreshOutcome.INVALID
        self._rotated(new_hash, new_expiry)
        return RefreshOutcome.ROTATED

    class Rotated(Aggregate.Event):
        token_hash: str
        expires_at: datetime

    @event(Rotated)
    def _rotated(self, token_hash: str, expires_at: datetime) -> None:
        self.used_hashes.append(self.token_hash)
        self.token_hash = token_hash
        self.expires_at = expires_at

    def end(self, reason: str) -> None:
        """Log this session out (idempotent)."""
        if self.active:
            self._revoked(reason)

    class Revoked(Aggregate.Event):
        reason: str

    @event(Revoked)
    def _revoked(self, reason: str) -> None:
        self.revoked_reason = reason
