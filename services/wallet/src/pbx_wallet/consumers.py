"""What the wallet consumes: accounts to open wallets for, and the saga's debits and refunds.

Consumers only translate: each message goes through the inbox (its effect and
its tracking row commit together) to the application's decision.
"""

from __future__ import annotations

from typing import Any

from pbx_events.bus import Bus, Subscription
from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message
from pbx_events.fulfillment import DebitRequested, RefundRequested
from pbx_events.identity import AccountRegistered
from pbx_events.inbox import Decide, Inbox
from pbx_wallet.application import WalletService

ACCOUNTS_QUEUE = "wallet.accounts"
ORDERS_QUEUE = "wallet.orders"


def decide_order(app: WalletService) -> Decide:
    def decide(event: IntegrationEvent, message: Message) -> list[Any]:
        if isinstance(event, DebitRequested):
            return app.on_debit_requested(event, message)
        if isinstance(event, RefundRequested):
            return app.on_refund_requested(event, message)
        return []  # another type bound by mistake: acknowledged, nothing to do

    return decide


async def subscribe(app: WalletService, bus: Bus, prefix: str = "") -> list[Subscription]:
    """Consume on the wallet's queues (``prefix`` + name), each message exactly once."""
    accounts = Inbox(app, ACCOUNTS_QUEUE)
    orders = Inbox(app, ORDERS_QUEUE)
    return [
        await bus.subscribe(
            prefix + ACCOUNTS_QUEUE,
            [AccountRegistered.type_name()],
            accounts.handler(app.on_account_registered),
        ),
        await bus.subscribe(
            prefix + ORDERS_QUEUE,
            [DebitRequested.type_name(), RefundRequested.type_name()],
            orders.handler(decide_order(app)),
        ),
    ]
