"""A change of an account's e-mail address, waiting for the new address to confirm it.

The new address gets a link with a one-time token (only its hash is kept here); the
change applies when the link is used. A newer request replaces an older one, and a
password change, "log out everywhere" or the owner cancels it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class EmailChangeCheck(Enum):
    """What a presented confirmation token is worth now."""

    VALID = "valid"
    #: unknown, wrong, superseded by a newer request, or cancelled
    INVALID = "invalid"
    EXPIRED = "expired"
    #: the change it confirmed has already been applied
    USED = "used"


#: why a pending change was dropped without being applied
CANCEL_REASONS = ("owner", "password_changed", "sessions_ended")


@dataclass(frozen=True)
class PendingEmailChange:
    change_id: str
    new_email: str
    token_hash: str
    expires_at: datetime

    def matches(self, change_id: str, token_hash: str) -> bool:
        """The token was issued for this change."""
        return change_id == self.change_id and hmac.compare_digest(token_hash, self.token_hash)

    def check(self, change_id: str, token_hash: str, now: datetime) -> EmailChangeCheck:
        if not self.matches(change_id, token_hash):
            return EmailChangeCheck.INVALID
        if now >= self.expires_at:
            return EmailChangeCheck.EXPIRED
        return EmailChangeCheck.VALID

    def open_at(self, now: datetime) -> bool:
        """Still confirmable at ``now`` (not expired)."""
        return now < self.expires_at
