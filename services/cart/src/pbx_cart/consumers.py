"""What the cart consumes: the facts it keeps copies of (products, an account's shipping
address, circles, uniques, balance and screening) and the saga's answers to its checkouts.

Each handler builds the change and calls the application method a test calls too; the
inbox records what it saved with the message's tracking, exactly once. The newest fact
wins by its producer's position (``Message.producer_position``).
"""

from __future__ import annotations

from typing import Any

from pbx_cart.application import CartService
from pbx_cart.domain.copies import AccountCopy
from pbx_events.catalog import ProductChanged, ProductDiscontinued, ProductPublished
from pbx_events.envelope import Message
from pbx_events.fulfillment import (
    CheckoutRejected,
    OrderPlaced,
    ServiceActivated,
    ServiceCancelled,
)
from pbx_events.identity import CircleAdded, CircleCancelled, ShippingAddressChanged
from pbx_events.kyc import KycApproved, KycExpired, KycRejected
from pbx_events.wallet import WalletCharged, WalletDebited, WalletRefunded
from pbx_kit.service import ConsumerRoutes

PRODUCTS_QUEUE = "cart.products"
ACCOUNTS_QUEUE = "cart.accounts"
BALANCES_QUEUE = "cart.balances"
SCREENING_QUEUE = "cart.screening"
ORDERS_QUEUE = "cart.orders"


def _position(message: Message) -> int:
    return message.producer_position or 0


def on_product(
    app: CartService, event: ProductPublished | ProductChanged | ProductDiscontinued, _: Message
) -> None:
    """The product's whole sellable state; the copy keeps the highest version."""
    app.copy_product(event.product.model_dump(mode="json"))


def on_shipping_address(app: CartService, event: ShippingAddressChanged, message: Message) -> None:
    address = event.address.model_dump(mode="json")
    position = _position(message)
    app.change_account_copy(
        event.account_id, lambda copy: copy.shipping_address_changed(address, position)
    )


def on_circle_added(app: CartService, event: CircleAdded, _: Message) -> None:
    applied_on = event.applied_on.isoformat()
    app.change_account_copy(
        event.account_id, lambda copy: copy.circle_added(event.circle_id, applied_on)
    )


def on_circle_cancelled(app: CartService, event: CircleCancelled, _: Message) -> None:
    app.change_account_copy(event.account_id, lambda copy: copy.circle_cancelled(event.circle_id))


def on_service_activated(app: CartService, event: ServiceActivated, _: Message) -> None:
    def decide(copy: AccountCopy) -> None:
        copy.service_activated(event.service_id, event.circle_id, event.kind, event.sku, event.name)

    app.change_account_copy(event.account_id, decide)


def on_service_cancelled(app: CartService, event: ServiceCancelled, _: Message) -> None:
    def decide(copy: AccountCopy) -> None:
        copy.service_cancelled(event.service_id, event.circle_id, event.kind)

    app.change_account_copy(event.account_id, decide)


def on_balance(
    app: CartService, event: WalletCharged | WalletDebited | WalletRefunded, message: Message
) -> None:
    """The spendable balance after each movement; the wallet's newest position wins."""
    position = _position(message)
    app.change_account_copy(
        event.account_id, lambda copy: copy.balance_is(event.balance_after, position)
    )


_SCREENING: dict[type[Any], str] = {
    KycApproved: "approved",
    KycRejected: "rejected",
    KycExpired: "expired",
}


def on_screening(
    app: CartService, event: KycApproved | KycRejected | KycExpired, message: Message
) -> None:
    status = _SCREENING[type(event)]
    position = _position(message)
    app.change_account_copy(event.account_id, lambda copy: copy.screening_is(status, position))


def on_order_placed(app: CartService, event: OrderPlaced, _: Message) -> None:
    """The order exists: the cart is emptied (once)."""
    app.order_placed(event.account_id, event.checkout_id)


def on_checkout_rejected(app: CartService, event: CheckoutRejected, _: Message) -> None:
    """No order: the cart is left exactly as it was, the reason kept for the customer."""
    app.checkout_rejected(event.account_id, event.checkout_id, event.reason)


ROUTES: ConsumerRoutes[CartService] = {
    PRODUCTS_QUEUE: {
        ProductPublished: on_product,
        ProductChanged: on_product,
        ProductDiscontinued: on_product,
    },
    ACCOUNTS_QUEUE: {
        ShippingAddressChanged: on_shipping_address,
        CircleAdded: on_circle_added,
        CircleCancelled: on_circle_cancelled,
        ServiceActivated: on_service_activated,
        ServiceCancelled: on_service_cancelled,
    },
    BALANCES_QUEUE: {
        WalletCharged: on_balance,
        WalletDebited: on_balance,
        WalletRefunded: on_balance,
    },
    SCREENING_QUEUE: {
        KycApproved: on_screening,
        KycRejected: on_screening,
        KycExpired: on_screening,
    },
    ORDERS_QUEUE: {OrderPlaced: on_order_placed, CheckoutRejected: on_checkout_rejected},
}
