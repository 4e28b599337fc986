"""Identity's consumers: other services' integration events, translated into commands.

``ROUTES`` declares them as data (queue → contract → handler); ``pbx_kit.service``
subscribes each queue through an inbox, so what a handler's command saves and the
tracking record of its message commit together (a redelivered message takes effect
once).
"""

from __future__ import annotations

import structlog

from pbx_events.envelope import Message
from pbx_events.kyc import KycApproved, KycExpired, KycRejected
from pbx_events.wallet import WalletBalanceLow
from pbx_identity.application import IdentityService
from pbx_identity.commands import RequestLowBalanceNotice, RequestScreeningDecisionNotice
from pbx_identity.errors import AccountNotFoundError
from pbx_kit.service import ConsumerRoutes

log = structlog.get_logger("pbx.identity.consumers")

#: identity's durable queue for the wallet's notices to the account owner
WALLET_NOTICES = "identity.wallet-notices"
#: identity's durable queue for kyc's screening decisions (the customer gets a mail)
KYC_DECISIONS = "identity.kyc-decisions"


def on_wallet_balance_low(app: IdentityService, event: WalletBalanceLow, message: Message) -> None:
    """The wallet's balance fell below the owner's threshold: the owner gets a mail."""
    command = RequestLowBalanceNotice(
        account_id=event.account_id,
        notice_id=message.message_id,
        balance=event.balance,
        threshold=event.threshold,
        occurred_at=event.occurred_at,
    )
    try:
        app.request_low_balance_notice(command)
    except AccountNotFoundError:
        # nobody to write to, and a retry would not change that: tracked and acked
        log.warning(
            "low_balance_notice_for_unknown_account",
            account_id=str(event.account_id),
            message_id=message.message_id,
        )


def on_kyc_approved(app: IdentityService, event: KycApproved, message: Message) -> None:
    """The account's screening was approved: the customer gets a mail."""
    _notify_decision(
        app,
        message,
        RequestScreeningDecisionNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            decision="approved",
            review_id=event.review_id,
            revision=event.revision,
            decided_at=event.approved_at,
            valid_until=event.valid_until,
        ),
    )


def on_kyc_rejected(app: IdentityService, event: KycRejected, message: Message) -> None:
    """The account's screening was rejected: the customer gets a mail with the reasons."""
    _notify_decision(
        app,
        message,
        RequestScreeningDecisionNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            decision="rejected",
            review_id=event.review_id,
            revision=event.revision,
            decided_at=event.rejected_at,
            reasons=tuple(event.reasons),
        ),
    )


def on_kyc_expired(app: IdentityService, event: KycExpired, message: Message) -> None:
    """The account's approval ended: the customer gets a mail asking to resubmit."""
    _notify_decision(
        app,
        message,
        RequestScreeningDecisionNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            decision="expired",
            review_id=event.review_id,
            revision=event.revision,
            decided_at=event.expired_at,
        ),
    )


def _notify_decision(
    app: IdentityService, message: Message, command: RequestScreeningDecisionNotice
) -> None:
    try:
        app.request_screening_decision_notice(command)
    except AccountNotFoundError:
        # nobody to write to, and a retry would not change that: tracked and acked
        log.warning(
            "screening_decision_notice_for_unknown_account",
            account_id=str(command.account_id),
            decision=command.decision,
            message_id=message.message_id,
        )


ROUTES: ConsumerRoutes[IdentityService] = {
    WALLET_NOTICES: {WalletBalanceLow: on_wallet_balance_low},
    KYC_DECISIONS: {
        KycApproved: on_kyc_approved,
        KycRejected: on_kyc_rejected,
        KycExpired: on_kyc_expired,
    },
}
