"""Maps wallet domain events to the integration events other services consume."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pbx_events.contracts import IntegrationEvent
from pbx_events.wallet import (
    WalletBalanceLow,
    WalletCharged,
    WalletDebited,
    WalletDebitRejected,
    WalletRefunded,
)
from pbx_wallet.application import WalletService
from pbx_wallet.domain.wallet import Wallet


class WalletMapping:
    def __init__(self, app: WalletService) -> None:
        self.app = app

    def __call__(self, event: Any) -> Sequence[IntegrationEvent]:
        if not isinstance(event, Wallet.LedgerEvent):
            return []  # opened, charge index
        account_id = self.app.account_of_wallet(event.originator_id)
        at = event.timestamp
        if isinstance(event, Wallet.ChargeConfirmed | Wallet.ChargePartiallyPaid):
            return [
                WalletCharged(
                    account_id=account_id,
                    charge_id=event.charge_id,
                    method=event.method,  # type: ignore[arg-type]
                    amount=event.amount,
                    balance_after=event.balance_after,
                    charged_at=at,
                )
            ]
        if isinstance(event, Wallet.Debited):
            return [
                WalletDebited(
                    account_id=account_id,
                    order_id=event.order_id,
                    amount=event.amount,
                    balance_after=event.balance_after,
                    debited_at=at,
                )
            ]
        if isinstance(event, Wallet.DebitRejected):
            return [
                WalletDebitRejected(
                    account_id=account_id,
                    order_id=event.order_id,
                    amount=event.amount,
                    reason="insufficient_funds",
                    balance=event.balance,
                    rejected_at=at,
                )
            ]
        if isinstance(event, Wallet.Refunded):
            return [
                WalletRefunded(
                    account_id=account_id,
                    order_id=event.order_id,
                    amount=event.amount,
                    balance_after=event.balance_after,
                    refunded_at=at,
                )
            ]
        if isinstance(event, Wallet.BalanceLow):
            return [
                WalletBalanceLow(
                    account_id=account_id,
                    balance=event.balance,
                    threshold=event.threshold,
                    occurred_at=at,
                )
            ]
        return []
