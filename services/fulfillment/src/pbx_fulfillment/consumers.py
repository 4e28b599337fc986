"""What the saga consumes: checkouts, the wallet's answers, and the facts it decides on."""

from __future__ import annotations

from pbx_events.cart import CheckoutRequested
from pbx_events.catalog import ProductChanged, ProductDiscontinued, ProductPublished
from pbx_events.envelope import Message
from pbx_events.identity import CircleAdded, CircleCancelled
from pbx_events.kyc import KycApproved, KycExpired, KycRejected
from pbx_events.wallet import WalletDebited, WalletDebitRejected, WalletRefunded
from pbx_fulfillment.application import FulfillmentService
from pbx_kit.service import ConsumerRoutes

CHECKOUTS_QUEUE = "fulfillment.checkouts"
PAYMENTS_QUEUE = "fulfillment.payments"
FACTS_QUEUE = "fulfillment.facts"


def on_checkout(app: FulfillmentService, event: CheckoutRequested, _: Message) -> None:
    app.checkout_requested(event.checkout_id, event.account_id, event.model_dump(mode="json"))


def on_debited(app: FulfillmentService, event: WalletDebited, _: Message) -> None:
    app.wallet_debited(event.order_id, event.amount)


def on_debit_rejected(app: FulfillmentService, event: WalletDebitRejected, _: Message) -> None:
    app.wallet_debit_rejected(event.order_id)


def on_refunded(app: FulfillmentService, event: WalletRefunded, _: Message) -> None:
    app.wallet_refunded(event.order_id)


def on_product(
    app: FulfillmentService,
    event: ProductPublished | ProductChanged | ProductDiscontinued,
    _: Message,
) -> None:
    app.copy_product(event.product.model_dump(mode="json"))


_SCREENING = {KycApproved: "approved", KycRejected: "rejected", KycExpired: "expired"}


def on_screening(
    app: FulfillmentService, event: KycApproved | KycRejected | KycExpired, message: Message
) -> None:
    status, position = _SCREENING[type(event)], message.producer_position or 0
    app.change_account(event.account_id, lambda copy: copy.screening_is(status, position))


def on_circle_added(app: FulfillmentService, event: CircleAdded, _: Message) -> None:
    app.change_account(event.account_id, lambda copy: copy.circle_added(event.circle_id))


def on_circle_cancelled(app: FulfillmentService, event: CircleCancelled, _: Message) -> None:
    app.change_account(event.account_id, lambda copy: copy.circle_cancelled(event.circle_id))


ROUTES: ConsumerRoutes[FulfillmentService] = {
    CHECKOUTS_QUEUE: {CheckoutRequested: on_checkout},
    PAYMENTS_QUEUE: {
        WalletDebited: on_debited,
        WalletDebitRejected: on_debit_rejected,
        WalletRefunded: on_refunded,
    },
    FACTS_QUEUE: {
        ProductPublished: on_product,
        ProductChanged: on_product,
        ProductDiscontinued: on_product,
        KycApproved: on_screening,
        KycRejected: on_screening,
        KycExpired: on_screening,
        CircleAdded: on_circle_added,
        CircleCancelled: on_circle_cancelled,
    },
}
