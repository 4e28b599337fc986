"""Identity's consumers: other services' integration events, translated into commands.

Each queue's messages go through an ``Inbox``: the events a message records and
the tracking record of that message commit together, so a redelivered or
re-published message takes effect once.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from pbx_events.bus import Bus, Subscription
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message
from pbx_events.inbox import Inbox
from pbx_events.kyc import KycApproved, KycRejected
from pbx_events.wallet import WalletBalanceLow
from pbx_identity.application import IdentityService
from pbx_identity.commands import RequestLowBalanceNotice, RequestScreeningDecisionNotice
from pbx_identity.domain.account import Account
from pbx_identity.errors import AccountNotFoundError

log = structlog.get_logger("pbx.identity.consumers")

#: identity's durable queue for the wallet's notices to the account owner
WALLET_NOTICES = "identity.wallet-notices"
WALLET_NOTICE_KEYS = (WalletBalanceLow.type_name(),)


def on_wallet_balance_low(
    app: IdentityService, event: IntegrationEvent, message: Message
) -> Sequence[Account]:
    """The wallet's balance fell below the owner's threshold: the owner gets a mail."""
    if not isinstance(event, WalletBalanceLow):
        raise TypeError(f"{WALLET_NOTICES} got {message.type}")
    command = RequestLowBalanceNotice(
        account_id=event.account_id,
        notice_id=message.message_id,
        balance=event.balance,
        threshold=event.threshold,
        occurred_at=event.occurred_at,
    )
    try:
        return app.request_low_balance_notice(command)
    except AccountNotFoundError:
        # nobody to write to, and a retry would not change that: tracked and acked
        log.warning(
            "low_balance_notice_for_unknown_account",
            account_id=str(event.account_id),
            message_id=message.message_id,
        )
        return []


async def subscribe_wallet_notices(
    bus: Bus, app: IdentityService, prefix: str = ""
) -> Subscription:
    """Consume the wallet's notices on identity's own queue (``prefix`` + name), each once."""
    inbox = Inbox(app, WALLET_NOTICES)

    def decide(event: IntegrationEvent, message: Message) -> Sequence[Account]:
        return on_wallet_balance_low(app, event, message)

    return await bus.subscribe(
        prefix + WALLET_NOTICES, list(WALLET_NOTICE_KEYS), inbox.handler(decide)
    )


#: identity's durable queue for kyc's screening decisions (the customer gets a mail)
KYC_DECISIONS = "identity.kyc-decisions"
KYC_DECISION_KEYS = (KycApproved.type_name(), KycRejected.type_name())


def on_kyc_decision(
    app: IdentityService, event: IntegrationEvent, message: Message
) -> Sequence[Account]:
    """The account's screening was approved or rejected: the customer gets a mail."""
    if isinstance(event, KycApproved):
        command = RequestScreeningDecisionNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            decision="approved",
            review_id=event.review_id,
            revision=event.revision,
            decided_at=event.approved_at,
            valid_until=event.valid_until,
        )
    elif isinstance(event, KycRejected):
        command = RequestScreeningDecisionNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            decision="rejected",
            review_id=event.review_id,
            revision=event.revision,
            decided_at=event.rejected_at,
            reasons=tuple(event.reasons),
        )
    else:
        raise TypeError(f"{KYC_DECISIONS} got {message.type}")
    try:
        return app.request_screening_decision_notice(command)
    except AccountNotFoundError:
        # nobody to write to, and a retry would not change that: tracked and acked
        log.warning(
            "screening_decision_notice_for_unknown_account",
            account_id=str(event.account_id),
            decision=command.decision,
            message_id=message.message_id,
        )
        return []


async def subscribe_kyc_decisions(bus: Bus, app: IdentityService, prefix: str = "") -> Subscription:
    """Consume kyc's decisions on identity's own queue (``prefix`` + name), each once."""
    inbox = Inbox(app, KYC_DECISIONS)

    def decide(event: IntegrationEvent, message: Message) -> Sequence[Account]:
        return on_kyc_decision(app, event, message)

    return await bus.subscribe(
        prefix + KYC_DECISIONS, list(KYC_DECISION_KEYS), inbox.handler(decide)
    )
