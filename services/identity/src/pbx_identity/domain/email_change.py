"""A change of an account's e-mail address, waiting for the new address to confirm it.

The new address gets a link with a one-time token (only its hash is kept here); the
change applies when the link is used. A newer request replaces an older one, and a
password change, "log out everywhere" or the owner cancels it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from pbx_kit.errors import ConflictError, FieldProblem, RuleViolationError


class InvalidEmailChangeTokenError(RuleViolationError):
    """Raised when an e-mail confirmation token is unknown, wrong, replaced by a newer
    request or cancelled."""

    code = "invalid_email_change_token"
    message_ja = (
        "メールアドレス確認用のURLが無効です。より新しい確認メールが届いている場合は"
        "そちらのURLをご利用ください。解決しない場合は、アカウント管理ページからもう一度"
        "メールアドレスの変更をお手続きください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])


class EmailChangeTokenExpiredError(RuleViolationError):
    """Raised when an e-mail confirmation token is past its lifetime (24 hours)."""

    code = "email_change_token_expired"
    message_ja = (
        "メールアドレス確認用のURLの有効期限（24時間）が切れています。"
        "アカウント管理ページからもう一度メールアドレスの変更をお手続きください。"
    )

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])


class EmailChangeAlreadyConfirmedError(ConflictError):
    """Raised when an e-mail confirmation token's change has already been applied."""

    code = "email_change_already_confirmed"
    message_ja = "このメールアドレスの変更は既に完了しています。"

    def __init__(self) -> None:
        super().__init__(errors=[FieldProblem("token", self.code, self.message_ja)])


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

    def check(self, change_id: str, token_hash: str, now: datetime) -> None:
        """Raise unless the token confirms this change now (expiry is told to its holder only)."""
        if not self.matches(change_id, token_hash):
            raise InvalidEmailChangeTokenError
        if now >= self.expires_at:
            raise EmailChangeTokenExpiredError

    def open_at(self, now: datetime) -> bool:
        """Still confirmable at ``now`` (not expired)."""
        return now < self.expires_at
