"""The account page's use cases: contract info and circles (SPEC §2.5).

Mixed into ``IdentityService`` (application.py), the only load/save site.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError

from pbx_identity.commands import (
    AddCircle,
    CancelCircle,
    CancelEmailChange,
    ChangeContractInfo,
    ConfirmEmailChange,
    RequestLowBalanceNotice,
    RequestScreeningDecisionNotice,
)
from pbx_identity.domain.account import Account, EmailClaim
from pbx_identity.errors import AccountNotFoundError, EmailTakenError, InvalidEmailChangeTokenError
from pbx_identity.link_tokens import LinkTokens
from pbx_identity.validation.email import email_domain_class

JST = ZoneInfo("Asia/Tokyo")
#: how long the link mailed to a new e-mail address confirms the change
EMAIL_CHANGE_TTL = timedelta(hours=24)

_CHANGE_NAMES = {
    "Registered": "registered",
    "InfoChanged": "contract_info_changed",
    "ShippingAddressChanged": "shipping_address_changed",
    "CircleAdded": "circle_added",
    "CircleCancelled": "circle_cancelled",
    "PasswordChanged": "password_changed",
    "PasswordRehashed": "password_rehashed",
    "SessionsEnded": "logged_out_everywhere",
    "EmailChangeRequested": "email_change_requested",
    "EmailChangeConfirmed": "email_changed",
    "EmailChangeCancelled": "email_change_cancelled",
    "LowBalanceNoticeRequested": "low_balance_notice_requested",
    "ScreeningDecisionNoticeRequested": "screening_decision_notice_requested",
    "CircleServiceActivated": "circle_service_activated",
    "CircleServiceCancelled": "circle_service_cancelled",
    "OrderConfirmationNoticeRequested": "order_confirmation_notice_requested",
    "DispatchNoticeRequested": "dispatch_notice_requested",
    "CheckoutRejectionNoticeRequested": "checkout_rejection_notice_requested",
}


def _asdict(value: Any) -> Any:
    return dataclasses.asdict(value) if value is not None else None


def today_in_japan() -> str:
    return datetime.now(JST).date().isoformat()


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountUseCases:
    # provided by IdentityService
    repository: Any
    events: Any

    #: Application.save and ServiceApplication.change (annotations only: a stub here
    #: would shadow them in the MRO)
    save: Callable[..., Any]
    change: Callable[..., Any]

    email_key: Callable[[str], str]
    email_change_links: LinkTokens

    def my_account(self, account_id: UUID) -> Account:
        """The caller's own account (404 for anything else, staff logins included)."""
        try:
            account = self.repository.get(account_id)
        except AggregateNotFoundError:
            raise AccountNotFoundError from None
        if not isinstance(account, Account):
            raise AccountNotFoundError
        return account

    def account_history(self, account_id: UUID) -> list[tuple[int, str, datetime]]:
        """Every change of the caller's account: (version, what, when); no contents."""
        self.my_account(account_id)
        return [
            (e.originator_version, _CHANGE_NAMES.get(type(e).__name__, "other"), e.timestamp)
            for e in self.events.get(account_id)
        ]

    def change_contract_info(self, cmd: ChangeContractInfo) -> Account:
        """Change contract info, contacts and shipping address; each change is an event.
        A new e-mail address is only noted: it applies when confirmed from that address."""

        def decide(account: Account) -> Account:
            info = cmd.info
            contractor = dataclasses.asdict(info.contractor)
            new_email = contractor["email"]
            if new_email.lower() != account.email.lower():
                self._refuse_taken_email(account, new_email)
                contractor["email"] = account.email
                change_id = uuid4().hex
                account.request_email_change(
                    change_id,
                    new_email,
                    _token_hash(self.email_change_links.secret(account.id, change_id)),
                    datetime.now(UTC) + EMAIL_CHANGE_TTL,
                )
            account.change_info(
                contractor,
                _asdict(info.representative),
                _asdict(info.usage_contact),
                _asdict(info.billing_contact),
                email_domain_class(contractor["email"]),
            )
            account.change_shipping_address(_asdict(info.shipping_address))
            return account

        changed: Account = self.change(lambda: self.my_account(cmd.account_id), decide)
        return changed

    def _refuse_taken_email(self, account: Account, email: str) -> None:
        try:
            claim = self.repository.get(EmailClaim.create_id(self.email_key(email)))
        except AggregateNotFoundError:
            return
        if claim.account_id not in (None, account.id):
            raise EmailTakenError

    # -- e-mail change confirmation ------------------------------------------------------

    def email_change_token(self, account_id: UUID, change_id: str) -> str:
        """The token of the link mailed to the new address of one change request."""
        return self.email_change_links.make(account_id, change_id)

    def _email_change_token_parts(self, token: str) -> tuple[UUID, str, str]:
        parsed = self.email_change_links.read(token)
        if parsed is None:
            raise InvalidEmailChangeTokenError
        return parsed

    def _account_for_token(self, account_id: UUID) -> Account:
        try:
            return self.my_account(account_id)
        except AccountNotFoundError:
            raise InvalidEmailChangeTokenError from None

    def confirm_email_change(self, cmd: ConfirmEmailChange) -> Account:
        """Apply a pending e-mail change with the token mailed to the new address (no login
        needed: the token alone authorises it); the e-mail claim moves in the same save."""
        account_id, change_id, secret = self._email_change_token_parts(cmd.token)
        token_hash = _token_hash(secret)
        claims: list[EmailClaim] = []

        def decide(account: Account) -> Account:
            now = datetime.now(UTC)
            pending = account.check_email_change(change_id, token_hash, now)
            # another account may have taken the address since the request
            claims[:] = self._move_email(account, pending.new_email)
            account.confirm_email_change(
                change_id, token_hash, now, email_domain_class(pending.new_email)
            )
            return account

        confirmed: Account = self.change(
            lambda: self._account_for_token(account_id), decide, also=lambda: claims
        )
        return confirmed

    def cancel_email_change(self, cmd: CancelEmailChange) -> Account:
        """Drop the caller's pending e-mail change (its link stops working); none: no-op."""

        def decide(account: Account) -> Account:
            account.cancel_email_change("owner")
            return account

        cancelled: Account = self.change(lambda: self.my_account(cmd.account_id), decide)
        return cancelled

    def _move_email(self, account: Account, new_email: str) -> list[EmailClaim]:
        if new_email.lower() == account.email.lower():
            return []
        new_key = self.email_key(new_email)
        try:
            new_claim = self.repository.get(EmailClaim.create_id(new_key))
        except AggregateNotFoundError:
            new_claim = EmailClaim(email_key=new_key, account_id=account.id)
        else:
            new_claim.claim(account.id)
        old_claim: EmailClaim = self.repository.get(
            EmailClaim.create_id(self.email_key(account.email))
        )
        old_claim.release()
        return [new_claim, old_claim]

    def add_circle(self, cmd: AddCircle) -> dict[str, Any]:
        """Add a circle to the caller's account (free)."""
        account = self.my_account(cmd.account_id)
        account.add_circle(
            str(cmd.circle_id), cmd.department_name, cmd.staff_name, today_in_japan()
        )
        self.save(account)
        circle = account.find_circle(str(cmd.circle_id))
        assert circle is not None
        return dict(circle)

    def cancel_circle(self, cmd: CancelCircle) -> dict[str, Any]:
        """Cancel one of the caller's circles (利用中 → 解約済)."""
        account = self.my_account(cmd.account_id)
        account.cancel_circle(str(cmd.circle_id), today_in_japan())
        self.save(account)
        circle = account.find_circle(str(cmd.circle_id))
        assert circle is not None
        return dict(circle)

    def request_low_balance_notice(self, cmd: RequestLowBalanceNotice) -> list[Account]:
        """Note that the owner is to be told of a low prepaid balance (the mailer sends it);
        the same wallet notice is noted once."""
        account = self.my_account(cmd.account_id)
        account.request_low_balance_notice(
            cmd.notice_id, cmd.balance, cmd.threshold, cmd.occurred_at
        )
        self.save(account)
        return [account]

    def request_screening_decision_notice(
        self, cmd: RequestScreeningDecisionNotice
    ) -> list[Account]:
        """Note that the customer is to be told of the screening's decision (the mailer
        sends it); the same decision is noted once."""
        account = self.my_account(cmd.account_id)
        account.request_screening_decision_notice(
            cmd.notice_id,
            cmd.decision,
            str(cmd.review_id),
            cmd.revision,
            cmd.decided_at,
            cmd.valid_until.isoformat() if cmd.valid_until is not None else None,
            cmd.reasons,
        )
        self.save(account)
        return [account]
