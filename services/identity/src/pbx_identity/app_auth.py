"""Identity's login use cases: tokens, sessions, password reminder and reset, staff.

Mixed into ``IdentityService`` (application.py), the only load/save site.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from pbx_identity.commands import (
    CreateStaff,
    LogIn,
    LogOut,
    RefreshSession,
    RequestPasswordReminder,
    ResetPassword,
)
from pbx_identity.domain.account import Account, LoginIdClaim
from pbx_identity.domain.reminder import PasswordReminder
from pbx_identity.domain.session import RefreshOutcome, Session
from pbx_identity.domain.staff import STAFF_ROLES, StaffMember
from pbx_identity.errors import (
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    InvalidResetTokenError,
)
from pbx_identity.link_tokens import LinkTokens
from pbx_identity.tokens import TokenIssuer

REFRESH_TTL = timedelta(days=30)
RESET_TTL = timedelta(minutes=30)
LOGIN_ID_MAX = 64


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str


def normalize_login_id(login_id: str) -> str:
    return login_id.strip().upper()[:LOGIN_ID_MAX]


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class AuthUseCases:
    # provided by IdentityService
    repository: Any
    password_hasher: PasswordHasher
    token_issuer: TokenIssuer
    reset_links: LinkTokens
    _dummy_hash: str

    #: Application.save (annotation only: a stub here would shadow it in the MRO)
    save: Callable[..., Any]

    # -- lookups ---------------------------------------------------------------

    def _get(self, aggregate_id: UUID) -> Any | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def find_login(self, login_id: str) -> Account | StaffMember | None:
        claim = self._get(LoginIdClaim.create_id(normalize_login_id(login_id)))
        if claim is None:
            return None
        subject = self._get(claim.account_id)
        return subject if isinstance(subject, Account | StaffMember) else None

    def token_version_of(self, subject_id: UUID) -> int | None:
        """The current token version of an account or staff member (None: unknown)."""
        subject = self._get(subject_id)
        return int(subject.token_version) if subject is not None else None

    # -- login -----------------------------------------------------------------

    def log_in(self, cmd: LogIn) -> Tokens:
        """Check a login ID and password; an unknown ID costs the same as a wrong password."""
        subject = self.find_login(cmd.login_id)
        stored = subject.password_hash if subject is not None else self._dummy_hash
        try:
            matches: bool = self.password_hasher.verify(stored, cmd.password)
        except (VerificationError, InvalidHashError):
            matches = False
        if subject is None or not matches or getattr(subject, "status", "active") != "active":
            raise InvalidCredentialsError
        if self.password_hasher.check_needs_rehash(subject.password_hash):
            subject.rehash_password(self.password_hasher.hash(cmd.password))
        session, refresh_token = self._start_session(subject)
        self.save(subject, session)
        return self._tokens(subject, refresh_token)

    def _start_session(self, subject: Account | StaffMember) -> tuple[Session, str]:
        secret = secrets.token_urlsafe(32)
        session = Session(
            subject_id=str(subject.id),
            token_hash=_sha256(secret),
            expires_at=datetime.now(UTC) + REFRESH_TTL,
            token_version=subject.token_version,
        )
        return session, f"{session.id.hex}.{secret}"

    def _tokens(self, subject: Account | StaffMember, refresh_token: str) -> Tokens:
        access = self.token_issuer.issue(
            str(subject.id), list(subject.roles), token_version=subject.token_version
        )
        return Tokens(access, self.token_issuer.ttl, refresh_token)

    # -- refresh and logout ----------------------------------------------------------

    def _session_for(self, refresh_token: str) -> tuple[Session, str]:
        session_hex, _, secret = refresh_token.partition(".")
        try:
            session_id = UUID(hex=session_hex)
        except ValueError:
            raise InvalidRefreshTokenError from None
        session = self._get(session_id)
        if not isinstance(session, Session) or not secret:
            raise InvalidRefreshTokenError
        return session, secret

    def refresh_session(self, cmd: RefreshSession) -> Tokens:
        """Rotate a refresh token; a reused one revokes its whole family."""
        for _attempt in range(3):
            session, secret = self._session_for(cmd.refresh_token)
            subject = self._get(UUID(session.subject_id))
            if subject is None:
                raise InvalidRefreshTokenError
            new_secret = secrets.token_urlsafe(32)
            now = datetime.now(UTC)
            outcome = session.refresh(
                _sha256(secret), _sha256(new_secret), now + REFRESH_TTL, now, subject.token_version
            )
            if outcome is RefreshOutcome.INVALID:
                raise InvalidRefreshTokenError
            try:
                self.save(session)
            except IntegrityError:
                continue  # a concurrent refresh of the same token: look again (now a reuse)
            if outcome is RefreshOutcome.REUSED:
                raise InvalidRefreshTokenError
            return self._tokens(subject, f"{session.id.hex}.{new_secret}")
        raise InvalidRefreshTokenError

    def log_out(self, cmd: LogOut) -> None:
        """End one session (its refresh token), or every session and token (everywhere)."""
        if cmd.everywhere:
            subject = self._get(cmd.subject_id)
            if subject is not None:
                subject.end_all_sessions()
                self.save(subject)
            return
        if cmd.refresh_token:
            session, _secret = self._session_for(cmd.refresh_token)
            if session.subject_id != str(cmd.subject_id):
                raise InvalidRefreshTokenError  # not the caller's: say nothing more
            session.end("logout")
            self.save(session)

    # -- password reminder and reset -------------------------------------------------

    def reset_token(self, reminder_id: UUID, reset_id: str) -> str:
        """The token of the link mailed for one reminder."""
        return self.reset_links.make(reminder_id, reset_id)

    def request_password_reminder(self, cmd: RequestPasswordReminder) -> None:
        """Record a reminder for any login ID; the mailer writes only to a real account."""
        key = normalize_login_id(cmd.login_id)
        reminder = self._get(PasswordReminder.create_id(key)) or PasswordReminder(key)
        reset_id = uuid4().hex
        now = datetime.now(UTC)
        reminder.request(
            reset_id, _sha256(self.reset_links.secret(reminder.id, reset_id)), now + RESET_TTL, now
        )
        self.save(reminder)  # nothing new when too many are open: the answer is the same

    def reset_password(self, cmd: ResetPassword) -> None:
        """Set a new password with a one-time token; every session ends."""
        parsed = self.reset_links.read(cmd.token)
        if parsed is None:
            raise InvalidResetTokenError
        reminder_id, reset_id, secret = parsed
        reminder = self._get(reminder_id)
        if not isinstance(reminder, PasswordReminder):
            raise InvalidResetTokenError
        account = self.find_login(reminder.login_id_key)
        if not isinstance(account, Account):
            raise InvalidResetTokenError
        reminder.use(reset_id, _sha256(secret), datetime.now(UTC))
        account.change_password(self.password_hasher.hash(cmd.password), reason="reset")
        self.save(reminder, account)

    # -- staff ---------------------------------------------------------------------

    def create_staff(self, cmd: CreateStaff) -> UUID:
        """Create a staff login (reviewer, warehouse, auditor, admin)."""
        roles = [r for r in cmd.roles if r in STAFF_ROLES]
        if not roles or len(roles) != len(cmd.roles):
            raise ValueError(f"staff roles must be among {STAFF_ROLES}")
        login_id = normalize_login_id(cmd.login_id)
        if not login_id or not login_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError("login ID: letters, digits, - and _ only")
        staff = StaffMember(login_id, cmd.name, roles, self.password_hasher.hash(cmd.password))
        try:
            self.save(staff, LoginIdClaim(login_id=login_id, account_id=staff.id))
        except IntegrityError:
            raise ValueError(f"login ID {login_id} is taken") from None
        return staff.id
