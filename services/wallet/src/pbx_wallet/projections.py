"""The ledger read model: follows the wallet notification log into rows.

Each wallet event that moves money becomes a ledger row (with the balance
and pending amount after it) and its postings; the rows that change the
customer's balance are the customer's statement; charges with a deadline are
listed as due until they settle (the expiry timer reads them); payments the
wallet did not credit are listed for reconciliation. Rows and the position
commit together, and every row change carries its notification id, so a batch
applied twice (a restart, a second process) changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pbx_events.relay import FollowerSettings, LogFollower
from pbx_wallet.application import WalletService
from pbx_wallet.domain.wallet import CUSTOMER_BALANCE, PENDING_CHARGES, Posting, Wallet

METHOD_NAMES = {
    "credit_card": "クレジットカード払い",
    "net_bank": "ネットバンク払込",
    "convenience_store": "コンビニ決済",
    "bank_transfer": "銀行振込",
}

_KINDS: dict[type[Any], str] = {
    Wallet.ChargeRequested: "charge_requested",
    Wallet.ChargeConfirmed: "charge_confirmed",
    Wallet.ChargePartiallyPaid: "charge_partially_paid",
    Wallet.ChargeDeclined: "charge_declined",
    Wallet.ChargeExpired: "charge_expired",
    Wallet.Debited: "debited",
    Wallet.Refunded: "refunded",
}

DESCRIPTIONS = {
    "charge_requested": "チャージ申込（{method}・入金待ち）",
    "charge_confirmed": "チャージ（{method}）",
    "charge_partially_paid": "チャージ（{method}・ご入金分）",
    "charge_declined": "チャージ不成立（{method}）",
    "charge_expired": "チャージ期限切れ（{method}）",
    "debited": "ご注文のお支払い",
    "refunded": "ご注文の返金",
}


@dataclass(frozen=True)
class Opened:
    position: int
    account_id: UUID
    opened_at: datetime


@dataclass(frozen=True)
class Movement:
    position: int
    account_id: UUID
    wallet_version: int
    posted_at: datetime
    kind: str
    balance_change: int
    pending_change: int
    charge_id: UUID | None
    order_id: UUID | None
    method: str | None
    postings: tuple[Posting, ...]

    def description(self) -> str:
        return DESCRIPTIONS[self.kind].format(method=METHOD_NAMES.get(self.method or "", ""))


@dataclass(frozen=True)
class Due:
    position: int
    account_id: UUID
    charge_id: UUID
    #: None clears it (the charge settled)
    expires_at: datetime | None


@dataclass(frozen=True)
class Unreconciled:
    position: int
    account_id: UUID
    charge_id: UUID
    notification_id: str
    amount: int
    reason: str
    recorded_at: datetime


Op = Opened | Movement | Due | Unreconciled


def _change(postings: Sequence[Posting], account: str) -> int:
    return sum(p.amount for p in postings if p.credit == account) - sum(
        p.amount for p in postings if p.debit == account
    )


def ops_for(app: WalletService, position: int, event: Any) -> list[Op]:
    """The read-model changes one domain event makes."""
    if isinstance(event, Wallet.Opened):
        return [Opened(position, event.account_id, event.timestamp)]
    if not isinstance(event, Wallet.LedgerEvent):
        return []
    account_id = app.account_of_wallet(event.originator_id)
    ops: list[Op] = []
    kind = _KINDS.get(type(event)) or next(
        (k for cls, k in _KINDS.items() if isinstance(event, cls)), None
    )
    if kind is not None:
        postings = tuple(event.postings())
        charge_id = getattr(event, "charge_id", None)
        method = getattr(event, "method", None)
        if method is None and charge_id is not None:
            wallet: Wallet = app.repository.get(
                event.originator_id, version=event.originator_version
            )
            method = wallet.charges[str(charge_id)]["method"]
        ops.append(
            Movement(
                position=position,
                account_id=account_id,
                wallet_version=event.originator_version,
                posted_at=event.timestamp,
                kind=kind,
                balance_change=_change(postings, CUSTOMER_BALANCE),
                pending_change=_change(postings, PENDING_CHARGES),
                charge_id=charge_id,
                order_id=getattr(event, "order_id", None),
                method=method,
                postings=postings,
            )
        )
    if isinstance(event, Wallet.ChargeRequested) and event.expires_at is not None:
        ops.append(Due(position, account_id, event.charge_id, event.expires_at))
    elif isinstance(event, Wallet.ChargeConfirmed | Wallet.ChargeDeclined | Wallet.ChargeExpired):
        ops.append(Due(position, account_id, event.charge_id, None))
    elif isinstance(event, Wallet.PaymentNeedsReconciliation):
        ops.append(
            Unreconciled(
                position,
                account_id,
                event.charge_id,
                event.notification_id,
                event.amount,
                event.reason,
                event.timestamp,
            )
        )
    return ops


class LedgerProjection(LogFollower):
    """Keeps a ``LedgerStore`` (memory or PostgreSQL) current with the wallet log."""

    def __init__(
        self, app: WalletService, store: Any, settings: FollowerSettings | None = None
    ) -> None:
        super().__init__(app, "projection:ledger", settings)
        self.wallets = app
        self.store = store
        self._saved = 0

    async def start(self) -> None:
        """Resume from where the store got to (the store saves it with the rows)."""
        self._saved = await self.store.position()

    def load_position(self) -> int:
        return self._saved

    def store_position(self, position: int) -> None:
        self._saved = position  # already saved with the rows, in handle_batch

    def prepare(self, batch: Sequence[tuple[int, Any]]) -> list[Op]:
        ops: list[Op] = []
        for position, event in batch:
            ops.extend(ops_for(self.wallets, position, event))
        return ops

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        ops = prepared if prepared is not None else self.prepare(batch)
        await self.store.apply(ops, batch[-1][0])
