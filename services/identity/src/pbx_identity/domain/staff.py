"""Staff logins (reviewer, warehouse, auditor, admin): made by operators, not registered."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event

STAFF_ROLES = ("reviewer", "warehouse", "auditor", "admin")


class StaffMember(Aggregate):
    class Created(Aggregate.Created):
        login_id: str
        name: str
        roles: list[str]
        password_hash: str

    @event(Created)
    def __init__(self, login_id: str, name: str, roles: list[str], password_hash: str) -> None:
        self.login_id = login_id
        self.name = name
        self.roles = list(roles)
        self.password_hash = password_hash
        self.token_version = 0

    def rehash_password(self, password_hash: str) -> None:
        if password_hash != self.password_hash:
            self._password_rehashed(password_hash)

    class PasswordRehashed(Aggregate.Event):
        password_hash: str

    @event(PasswordRehashed)
    def _password_rehashed(self, password_hash: str) -> None:
        self.password_hash = password_hash

    def end_all_sessions(self) -> None:
        self._sessions_ended()

    class SessionsEnded(Aggregate.Event):
        """Every token issued before it stops working (no attributes)."""

    @event(SessionsEnded)
    def _sessions_ended(self) -> None:
        self.token_version += 1
