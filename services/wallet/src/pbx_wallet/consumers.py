"""What the wallet consumes: accounts to open wallets for, and the saga's debits and refunds.

Each handler builds a command and calls the application method an HTTP route or a test
calls too; the inbox records what it saved with the message's tracking, exactly once.
"""

from __future__ import annotations

from pbx_events.envelope import Message
from pbx_events.fulfillment import DebitRequested, RefundRequested
from pbx_events.identity import AccountRegistered
from pbx_kit.service import ConsumerRoutes
from pbx_wallet.application import WalletService
from pbx_wallet.commands import DebitWallet, OpenWallet, RefundOrder

ACCOUNTS_QUEUE = "wallet.accounts"
ORDERS_QUEUE = "wallet.orders"


def on_account_registered(app: WalletService, event: AccountRegistered, _: Message) -> None:
    """A new account gets its wallet (a repeat changes nothing)."""
    app.open_wallet(OpenWallet(event.account_id))


def on_debit_requested(app: WalletService, event: DebitRequested, _: Message) -> None:
    """The saga asks to pay an order from the balance (once per order)."""
    app.debit_wallet(DebitWallet(event.account_id, event.order_id, event.amount))


def on_refund_requested(app: WalletService, event: RefundRequested, _: Message) -> None:
    """The saga gives an order's money back (at most what was debited, once)."""
    app.refund_order(RefundOrder(event.account_id, event.order_id, event.amount))


ROUTES: ConsumerRoutes[WalletService] = {
    ACCOUNTS_QUEUE: {AccountRegistered: on_account_registered},
    ORDERS_QUEUE: {DebitRequested: on_debit_requested, RefundRequested: on_refund_requested},
}
