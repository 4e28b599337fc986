"""Identity's consumers: other services' integration events, translated into commands.

``ROUTES`` declares them as data (queue → contract → handler); ``pbx_kit.service``
subscribes each queue through an inbox, so what a handler's command saves and the
tracking record of its message commit together (a redelivered message takes effect
once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import structlog

from pbx_events.envelope import Message
from pbx_events.fulfillment import (
    CheckoutRejected,
    OrderPlaced,
    ServiceActivated,
    ServiceCancelled,
    ShipmentDispatched,
)
from pbx_events.kyc import KycApproved, KycExpired, KycRejected
from pbx_events.wallet import WalletBalanceLow
from pbx_identity.application import IdentityService
from pbx_identity.commands import (
    ActivateCircleService,
    CancelCircleService,
    RequestCheckoutRejectionNotice,
    RequestDispatchNotice,
    RequestLowBalanceNotice,
    RequestOrderConfirmationNotice,
    RequestScreeningDecisionNotice,
)
from pbx_identity.errors import AccountNotFoundError, CircleNotFoundError, ServiceNotFoundError
from pbx_kit.service import ConsumerRoutes

log = structlog.get_logger("pbx.identity.consumers")

_Command = TypeVar(
    "_Command",
    RequestOrderConfirmationNotice,
    RequestDispatchNotice,
    RequestCheckoutRejectionNotice,
)

#: identity's durable queue for the wallet's notices to the account owner
WALLET_NOTICES = "identity.wallet-notices"
#: identity's durable queue for kyc's screening decisions (the customer gets a mail)
KYC_DECISIONS = "identity.kyc-decisions"
#: identity's durable queue for the services fulfillment activates and cancels in circles
SERVICES = "identity.services"
#: identity's durable queue for fulfillment's order outcomes (the customer gets a mail)
ORDERS = "identity.orders"

#: what an order line the confirmation mail lists keeps of fulfillment's CheckoutLine
_LINE_FIELDS = (
    "line_no",
    "sku",
    "name",
    "billing_kind",
    "unit_price",
    "prorated_unit_price",
    "quantity",
    "amount",
)


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


def on_service_activated(app: IdentityService, event: ServiceActivated, message: Message) -> None:
    """A service bought for a circle is in use: the circle lists it."""
    command = ActivateCircleService(
        account_id=event.account_id,
        circle_id=event.circle_id,
        service_id=event.service_id,
        kind=event.kind,
        sku=event.sku,
        name=event.name,
        phone_number=event.phone_number,
        activated_at=event.activated_at,
    )
    try:
        app.activate_circle_service(command)
    except (AccountNotFoundError, CircleNotFoundError) as exc:
        # no circle to list it in, and a retry would not change that: tracked and acked
        _log_unplaced_service("service_activated_for_unknown_circle", event, message, exc)


def on_service_cancelled(app: IdentityService, event: ServiceCancelled, message: Message) -> None:
    """A service of a circle ended: the circle shows it cancelled."""
    command = CancelCircleService(
        account_id=event.account_id,
        circle_id=event.circle_id,
        service_id=event.service_id,
        cancelled_at=event.cancelled_at,
    )
    try:
        app.cancel_circle_service(command)
    except (AccountNotFoundError, CircleNotFoundError, ServiceNotFoundError) as exc:
        _log_unplaced_service("service_cancelled_for_unknown_service", event, message, exc)


def _log_unplaced_service(
    what: str, event: ServiceActivated | ServiceCancelled, message: Message, exc: Exception
) -> None:
    log.warning(
        what,
        account_id=str(event.account_id),
        circle_id=str(event.circle_id),
        service_id=str(event.service_id),
        code=getattr(exc, "code", type(exc).__name__),
        message_id=message.message_id,
    )


def on_order_placed(app: IdentityService, event: OrderPlaced, message: Message) -> None:
    """An order was placed and paid: the customer gets the confirmation mail."""
    lines = tuple(
        {key: value for key, value in line.model_dump(mode="json").items() if key in _LINE_FIELDS}
        for line in event.lines
    )
    address = event.shipping_address
    _notify_order(
        app.request_order_confirmation_notice,
        message,
        RequestOrderConfirmationNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            order_id=event.order_id,
            lines=lines,
            subtotal=event.subtotal,
            tax=event.tax,
            total=event.total,
            shipping_address=address.model_dump() if address is not None else None,
            placed_at=event.placed_at,
        ),
    )


def on_shipment_dispatched(
    app: IdentityService, event: ShipmentDispatched, message: Message
) -> None:
    """An order's devices are on their way: the customer gets the carrier and number."""
    _notify_order(
        app.request_dispatch_notice,
        message,
        RequestDispatchNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            order_id=event.order_id,
            carrier=event.carrier,
            tracking_number=event.tracking_number,
            dispatched_at=event.dispatched_at,
        ),
    )


def on_checkout_rejected(app: IdentityService, event: CheckoutRejected, message: Message) -> None:
    """A checkout ended without an order: the customer gets the reason by mail."""
    _notify_order(
        app.request_checkout_rejection_notice,
        message,
        RequestCheckoutRejectionNotice(
            account_id=event.account_id,
            notice_id=message.message_id,
            checkout_id=event.checkout_id,
            reason=event.reason,
            detail=event.detail,
            rejected_at=event.rejected_at,
        ),
    )


def _notify_order(
    request: Callable[[_Command], object], message: Message, command: _Command
) -> None:
    try:
        request(command)
    except AccountNotFoundError:
        # nobody to write to, and a retry would not change that: tracked and acked
        log.warning(
            "order_notice_for_unknown_account",
            account_id=str(command.account_id),
            notice=type(command).__name__,
            message_id=message.message_id,
        )


ROUTES: ConsumerRoutes[IdentityService] = {
    WALLET_NOTICES: {WalletBalanceLow: on_wallet_balance_low},
    KYC_DECISIONS: {
        KycApproved: on_kyc_approved,
        KycRejected: on_kyc_rejected,
        KycExpired: on_kyc_expired,
    },
    SERVICES: {
        ServiceActivated: on_service_activated,
        ServiceCancelled: on_service_cancelled,
    },
    ORDERS: {
        OrderPlaced: on_order_placed,
        ShipmentDispatched: on_shipment_dispatched,
        CheckoutRejected: on_checkout_rejected,
    },
}
