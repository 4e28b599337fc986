"""Password reminders: one-time, expiring reset tokens, stored only as hashes.

Keyed by the login ID *as typed*, whether or not an account has it, so that a
reminder for an unknown ID does the same work as one for a real account and
the caller cannot tell them apart.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from pbx_kit.errors import FieldProblem, RuleViolationError

_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/identity/reminder")
#: unused, unexpired reset mails per login ID at any time
MAX_OPEN_RESETS = 3


class InvalidResetTokenError(RuleViolationError):
    """Raised when a password-reset token is unknown, expired or already used."""

    code = "invalid_reset_token"
    message_ja = (
        "パスワード再設定用のURLが無効か、有効期限（30分）が切れています。"
        "もう一度お手続きください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])


class PasswordReminder(Aggregate):
    @staticmethod
    def create_id(login_id_key: str) -> UUID:
        return uuid5(_NAMESPACE, login_id_key)

    class Opened(Aggregate.Created):
        login_id_key: str

    @event(Opened)
    def __init__(self, login_id_key: str) -> None:
        self.login_id_key = login_id_key
        #: reset id -> [token hash, expires at (ISO), used]
        self.resets: dict[str, list[str | bool]] = {}

    def request(self, reset_id: str, token_hash: str, expires_at: datetime, now: datetime) -> bool:
        """Record a reset request; False (nothing recorded) while too many are still open,
        so nobody can flood an address with reminder mails."""
        still_open = [
            r for r in self.resets.values() if not r[2] and now < datetime.fromisoformat(str(r[1]))
        ]
        if len(still_open) >= MAX_OPEN_RESETS:
            return False
        self._requested(reset_id, token_hash, expires_at.isoformat())
        return True

    class Requested(Aggregate.Event):
        reset_id: str
        token_hash: str
        expires_at: str

    @event(Requested)
    def _requested(self, reset_id: str, token_hash: str, expires_at: str) -> None:
        self.resets[reset_id] = [token_hash, expires_at, False]

    def can_use(self, reset_id: str, token_hash: str, now: datetime) -> bool:
        entry = self.resets.get(reset_id)
        if entry is None:
            return False
        stored_hash, expires_at, used = entry
        return (
            not used and stored_hash == token_hash and now < datetime.fromisoformat(str(expires_at))
        )

    def use(self, reset_id: str, token_hash: str, now: datetime) -> None:
        """Spend a reset token; ``InvalidResetTokenError`` (nothing recorded) when it is
        not valid now."""
        if not self.can_use(reset_id, token_hash, now):
            raise InvalidResetTokenError
        self._used(reset_id)

    class Used(Aggregate.Event):
        reset_id: str

    @event(Used)
    def _used(self, reset_id: str) -> None:
        self.resets[reset_id][2] = True
