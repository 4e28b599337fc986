"""The account page's use cases: contract info and circles (SPEC §2.5).

Mixed into ``IdentityService`` (application.py), the only load/save site.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from pbx_identity.commands import (
    AddCircle,
    CancelCircle,
    ChangeContractInfo,
    RequestLowBalanceNotice,
    RequestScreeningDecisionNotice,
)
from pbx_identity.domain.account import Account, EmailClaim
from pbx_identity.errors import AccountNotFoundError, CircleNotFoundError, EmailTakenError
from pbx_identity.validation.email import email_domain_class

JST = ZoneInfo("Asia/Tokyo")

_CHANGE_NAMES = {
    "Registered": "registered",
    "InfoChanged": "contract_info_changed",
    "ShippingAddressChanged": "shipping_address_changed",
    "CircleAdded": "circle_added",
    "CircleCancelled": "circle_cancelled",
    "PasswordChanged": "password_changed",
    "PasswordRehashed": "password_rehashed",
    "SessionsEnded": "logged_out_everywhere",
    "LowBalanceNoticeRequested": "low_balance_notice_requested",
    "ScreeningDecisionNoticeRequested": "screening_decision_notice_requested",
}


def _asdict(value: Any) -> Any:
    return dataclasses.asdict(value) if value is not None else None


def today_in_japan() -> str:
    return datetime.now(JST).date().isoformat()


class AccountUseCases:
    # provided by IdentityService
    repository: Any
    events: Any

    #: Application.save (annotation only: a stub here would shadow it in the MRO)
    save: Callable[..., Any]

    email_key: Callable[[str], str]

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
        """Change contract info, contacts and shipping address; each change is an event."""
        for _attempt in range(3):
            account = self.my_account(cmd.account_id)
            info = cmd.info
            contractor = dataclasses.asdict(info.contractor)
            claims = self._move_email(account, contractor["email"])
            account.change_info(
                contractor,
                _asdict(info.representative),
                _asdict(info.usage_contact),
                _asdict(info.billing_contact),
                email_domain_class(contractor["email"]),
            )
            account.change_shipping_address(_asdict(info.shipping_address))
            try:
                self.save(account, *claims)
            except IntegrityError:
                continue  # a concurrent change or e-mail claim: decide again
            return account
        raise EmailTakenError

    def _move_email(self, account: Account, new_email: str) -> list[EmailClaim]:
        if new_email.lower() == account.email.lower():
            return []
        new_key = self.email_key(new_email)
        try:
            new_claim = self.repository.get(EmailClaim.create_id(new_key))
        except AggregateNotFoundError:
            new_claim = EmailClaim(email_key=new_key, account_id=account.id)
        else:
            if not new_claim.claim(account.id):
                raise EmailTakenError
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
        if not account.cancel_circle(str(cmd.circle_id), today_in_japan()):
            raise CircleNotFoundError
        self.save(account)
        circle = account.find_circle(str(cmd.circle_id))
        assert circle is not None
        return dict(circle)

    def request_low_balance_notice(self, cmd: RequestLowBalanceNotice) -> list[Account]:
        """Note that the owner is to be told of a low prepaid balance (the mailer sends it).

        Returns the account to save instead of saving it: the inbox saves it together
        with the tracking record of the wallet's message (exactly once)."""
        account = self.my_account(cmd.account_id)
        account.request_low_balance_notice(
            cmd.notice_id, cmd.balance, cmd.threshold, cmd.occurred_at
        )
        return [account]

    def request_screening_decision_notice(
        self, cmd: RequestScreeningDecisionNotice
    ) -> list[Account]:
        """Note that the customer is to be told of the screening's decision (the mailer
        sends it). Returned unsaved, like ``request_low_balance_notice``: the inbox saves
        it with the tracking record of kyc's message."""
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
        return [account]
