"""The wallet application: the only place wallets are loaded and saved.

Every change is load → decide → save with optimistic concurrency: a writer that
lost the race (another request, message or process saved the wallet first)
loads the new version and decides again, so concurrent debits can never
overdraw a wallet. Within one process, changes to one wallet also queue on a
lock, so the retries are for other processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from pbx_events.store import ServiceApplication
from pbx_kit.problems import FieldProblem, RuleViolationError
from pbx_wallet import errors
from pbx_wallet.commands import (
    DebitWallet,
    OpenWallet,
    ReceivePaymentNotice,
    RefundOrder,
    RequestTopUp,
    SetLowBalanceThreshold,
)
from pbx_wallet.domain import wallet as domain
from pbx_wallet.domain.wallet import (
    TOP_UP_LIMITS,
    ChargeRef,
    ChargeState,
    DebitOutcome,
    NoticeResult,
    Wallet,
    charge_ref_id,
)
from pbx_wallet.payments import PAYMENT_WINDOWS, ChargeStart, PaymentProvider

T = TypeVar("T")

#: attempts before a change gives up (each lost race means another writer won)
MAX_ATTEMPTS = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


class WalletService(ServiceApplication):
    name = "wallet"
    # a snapshot every 100 events keeps loading a busy wallet cheap
    snapshotting_intervals = cast(Any, {Wallet: 100})

    def __init__(
        self,
        env: dict[str, str],
        *,
        provider: PaymentProvider,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        # no aggregate cache: eventsourcing 9.5 copies a cached aggregate outside the lock
        # that fast-forwards it, so concurrent loads of one wallet could copy it mid-change
        super().__init__(env=env)
        self.provider = provider
        self.clock = clock
        self._locks = [threading.Lock() for _ in range(64)]
        self._account_of: dict[UUID, UUID] = {}

    # -- loading ------------------------------------------------------------

    def find_wallet(self, account_id: UUID) -> Wallet | None:
        try:
            wallet: Wallet = self.repository.get(Wallet.create_id(account_id))
        except AggregateNotFoundError:
            return None
        return wallet

    def _load_or_open(self, account_id: UUID) -> Wallet:
        wallet = self.find_wallet(account_id)
        return wallet if wallet is not None else Wallet.open(account_id)

    def account_of_wallet(self, wallet_id: UUID) -> UUID:
        """The account a wallet belongs to (never changes: cached)."""
        account_id = self._account_of.get(wallet_id)
        if account_id is None:
            opened: Wallet = self.repository.get(wallet_id, version=1)
            account_id = self._account_of[wallet_id] = opened.account_id
        return account_id

    def _change(
        self,
        account_id: UUID,
        decide: Callable[[Wallet], T],
        also: Callable[[], Sequence[Aggregate]] = tuple,
    ) -> T:
        """Load (or open) the wallet, decide, save; decide again after a lost race."""
        with self._locks[hash(account_id) % len(self._locks)]:
            return self.change(lambda: self._load_or_open(account_id), decide, also, MAX_ATTEMPTS)

    # -- wallets ------------------------------------------------------------

    def open_wallet(self, cmd: OpenWallet) -> Wallet:
        """Open an account's wallet (no-op when it exists)."""
        return self._change(cmd.account_id, lambda wallet: wallet)

    def set_low_balance_threshold(self, cmd: SetLowBalanceThreshold) -> Wallet:
        """Set the balance under which the owner is told by mail (0 turns it off)."""

        def decide(wallet: Wallet) -> Wallet:
            wallet.set_low_balance_threshold(cmd.threshold)
            return wallet

        return self._change(cmd.account_id, decide)

    # -- top-ups ------------------------------------------------------------

    def request_top_up(self, cmd: RequestTopUp) -> tuple[UUID, ChargeState]:
        """Start a charge by one of the four methods; returns what the customer needs to pay."""
        low, high = TOP_UP_LIMITS[cmd.method]
        if not low <= cmd.amount <= high:
            raise RuleViolationError(
                errors=[
                    FieldProblem(
                        "amount",
                        "amount_out_of_range",
                        f"チャージ金額は{low:,}円以上{high:,}円以下で指定してください。",
                    )
                ]
            )
        if cmd.method == "credit_card" and not cmd.card_token:
            raise RuleViolationError(
                errors=[
                    FieldProblem(
                        "card_token",
                        "card_token_required",
                        "クレジットカード払いにはカード情報（トークン）が必要です。",
                    )
                ]
            )
        wallet = self.find_wallet(cmd.account_id)
        if wallet is not None and wallet.pending_charges() >= domain.MAX_PENDING_CHARGES:
            raise errors.TooManyPendingChargesError
        now = self.clock()
        charge_id = uuid4()
        start = ChargeStart(
            charge_id=charge_id,
            method=cmd.method,
            amount=cmd.amount,
            requested_at=now,
            card_token=cmd.card_token,
        )
        expires_at = now + PAYMENT_WINDOWS[cmd.method]
        if cmd.method == "credit_card":
            # recorded first: a crash after the card company answered leaves a pending
            # charge that the expiry timer settles by asking the provider
            self._record_charge(cmd, charge_id, {}, expires_at)
            answer = self.provider.start(start)
            if answer.outcome == "approved":
                self._change(cmd.account_id, lambda w: w.confirm_charge(charge_id, cmd.amount))
            else:
                reason = answer.decline_reason or "card_declined"
                self._change(cmd.account_id, lambda w: w.decline_charge(charge_id, reason))
                raise errors.CardDeclinedError(charge_id=str(charge_id), reason=reason)
        else:
            # a slip nobody saw is harmless: asked for first, so what we record is complete
            answer = self.provider.start(start)
            self._record_charge(cmd, charge_id, answer.payment, expires_at)
        return charge_id, self.charge_of(cmd.account_id, charge_id)

    def _record_charge(
        self, cmd: RequestTopUp, charge_id: UUID, payment: dict[str, str], expires_at: datetime
    ) -> None:
        self._change(
            cmd.account_id,
            lambda w: w.request_charge(charge_id, cmd.method, cmd.amount, payment, expires_at),
            also=lambda: [ChargeRef.make(charge_id, cmd.account_id)],
        )

    def charge_of(self, account_id: UUID, charge_id: UUID) -> ChargeState:
        wallet = self.find_wallet(account_id)
        if wallet is None or str(charge_id) not in wallet.charges:
            raise errors.ChargeNotFoundError
        return wallet.charge(charge_id)

    def return_from_bank(self, account_id: UUID, charge_id: UUID) -> ChargeState:
        """The customer came back from the net bank: settle the charge by what the provider says."""
        self.charge_of(account_id, charge_id)  # 404 for someone else's charge
        self._settle_by_provider(account_id, charge_id, expire=False)
        return self.charge_of(account_id, charge_id)

    def _settle_by_provider(self, account_id: UUID, charge_id: UUID, *, expire: bool) -> bool:
        status = self.provider.status(charge_id)
        now = self.clock()

        def decide(wallet: Wallet) -> bool:
            if status.state == "paid":
                if wallet.confirm_charge(charge_id, status.amount) == "credited":
                    return True
                # paid, but not what was asked (recorded for reconciliation, once): at its
                # deadline the charge ends like an unpaid one
            elif status.state == "declined":
                return wallet.decline_charge(charge_id, "declined_by_provider")
            return expire and wallet.expire_charge(charge_id, now)

        return self._change(account_id, decide)

    def expire_charge(self, account_id: UUID, charge_id: UUID) -> bool:
        """The durable timer's call at a charge's deadline: paid after all, or expired."""
        return self._settle_by_provider(account_id, charge_id, expire=True)

    def receive_payment_notice(self, cmd: ReceivePaymentNotice) -> NoticeResult:
        """A verified provider notification: credit once, or record it for reconciliation."""
        try:
            ref: ChargeRef = self.repository.get(charge_ref_id(cmd.charge_id))
        except AggregateNotFoundError:
            raise errors.UnknownChargeNotificationError from None

        def decide(wallet: Wallet) -> NoticeResult:
            if cmd.status == "paid":
                return wallet.confirm_charge(cmd.charge_id, cmd.amount, cmd.notification_id)
            changed = wallet.decline_charge(
                cmd.charge_id, "cancelled_by_provider", cmd.notification_id
            )
            return "declined" if changed else "duplicate"

        return self._change(ref.account_id, decide)

    # -- orders -------------------------------------------------------------

    def debit_wallet(self, cmd: DebitWallet) -> DebitOutcome:
        """Pay an order from the balance, once per order (the first outcome is kept)."""
        return self._change(cmd.account_id, lambda w: w.debit(cmd.order_id, cmd.amount))

    def refund_order(self, cmd: RefundOrder) -> bool:
        """Give an order's money back: at most what was debited, once."""
        return self._change(cmd.account_id, lambda w: w.refund(cmd.order_id, cmd.amount))
