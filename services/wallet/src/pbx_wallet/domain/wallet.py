"""The Wallet aggregate: one per account, a double-entry ledger in integer yen.

Every movement posts one amount from one ledger account to another, so the
ledger accounts always sum to zero. Balances are kept credit-normal
(credits − debits): the customer's spendable balance and the pending charges
are what the provider owes us on the customer's behalf (positive), the
provider clearing account is what the provider owes us (negative until paid),
sales are positive and refunds negative.

    top-up requested   provider_clearing → pending_charges
    top-up confirmed   pending_charges   → customer_balance
    transfer arrived   pending_charges   → customer_balance   (part of a bank transfer)
    declined, expired  pending_charges   → provider_clearing
    order debited      customer_balance  → sales
    order refunded     refunds           → customer_balance

Rules: only confirmed money is spendable; the balance never goes negative;
one debit per order (a repeated request gets the first outcome); at most the
debited amount is refunded per order, once; a provider notification counts
once; a payment for an expired charge is recorded for reconciliation, not
credited. A bank transfer that arrives short is credited for what arrived and
stays pending for the rest until its deadline (the customer is told what is
missing); at the deadline only the missing part expires. Other methods cannot be
paid short (a slip, a card, a bank page ask for the exact amount): a different
amount there is recorded for reconciliation. Every event's body only assigns: it
runs again on every replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NotRequired, TypedDict
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from pbx_kit.errors import ConflictError, NotFoundError

_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/wallet")
_CHARGE_NAMESPACE = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/wallet/charge")

CUSTOMER_BALANCE = "customer_balance"
PENDING_CHARGES = "pending_charges"
PROVIDER_CLEARING = "provider_clearing"
SALES = "sales"
REFUNDS = "refunds"
LEDGER_ACCOUNTS = (CUSTOMER_BALANCE, PENDING_CHARGES, PROVIDER_CLEARING, SALES, REFUNDS)

METHODS = ("credit_card", "net_bank", "convenience_store", "bank_transfer")
#: smallest and largest top-up per method, yen (convenience stores take less than ¥300,000)
TOP_UP_LIMITS: dict[str, tuple[int, int]] = {
    "credit_card": (1_000, 500_000),
    "net_bank": (1_000, 1_000_000),
    "convenience_store": (1_000, 299_999),
    "bank_transfer": (1_000, 5_000_000),
}
#: unpaid charges a wallet may hold at once (each is a payment slip or a transfer to make)
MAX_PENDING_CHARGES = 5

ChargeStatus = Literal["pending", "confirmed", "declined", "expired"]
NoticeResult = Literal[
    "credited",
    "partially_credited",
    "duplicate",
    "already_confirmed",
    "recorded_for_reconciliation",
    "declined",
]


class ChargeNotFoundError(NotFoundError):
    """Raised when a charge id is not one of this wallet's (the caller's) charges."""

    code = "charge_not_found"
    message_ja = "指定されたチャージが見つかりません。"


class TooManyPendingChargesError(ConflictError):
    """Raised when a new top-up would exceed the unpaid charges a wallet may hold."""

    code = "too_many_pending_charges"
    message_ja = (
        "お支払い待ちのチャージが上限に達しています。お支払い済みまたは期限切れになってから"
        "再度お申し込みください。"
    )


class DuplicateChargeError(ConflictError):
    """Raised when a charge id is used twice (ids are random: a bug, never a customer's doing)."""

    code = "duplicate_charge"


@dataclass(frozen=True)
class Posting:
    """One double-entry movement: ``amount`` yen from ``debit`` to ``credit``."""

    debit: str
    credit: str
    amount: int


class ChargeState(TypedDict):
    method: str
    amount: int
    status: str
    requested_at: datetime
    expires_at: datetime | None
    #: what the customer needs to pay (slip number, transfer details, bank URL)
    payment: dict[str, str]
    decline_reason: str
    #: yen credited so far (a bank transfer may arrive in parts); absent before any part
    paid: NotRequired[int]


def paid_of(charge: ChargeState) -> int:
    """Yen of this charge credited to the balance (the whole amount once confirmed)."""
    if charge["status"] == "confirmed":
        return charge["amount"]
    return charge.get("paid", 0)


def missing_of(charge: ChargeState) -> int:
    """Yen of this charge not paid (still awaited while it is pending)."""
    return charge["amount"] - paid_of(charge)


class OrderState(TypedDict):
    #: "debited", "rejected", or "awaiting_debit" (a refund request arrived first)
    outcome: str
    requested: int
    debited: int
    refunded: int
    #: a refund asked for before the debit was seen (messages arrive out of order)
    refund_awaited: int


class Reconciliation(TypedDict):
    charge_id: str
    notification_id: str
    amount: int
    reason: str
    recorded_at: datetime


@dataclass(frozen=True)
class DebitOutcome:
    order_id: UUID
    debited: bool
    amount: int
    balance: int


def wallet_id_for(account_id: UUID) -> UUID:
    return uuid5(_NAMESPACE, str(account_id))


def charge_ref_id(charge_id: UUID) -> UUID:
    return uuid5(_CHARGE_NAMESPACE, str(charge_id))


class Wallet(Aggregate):
    """One account's prepaid wallet."""

    class Opened(Aggregate.Created):
        account_id: UUID

    @staticmethod
    def create_id(account_id: UUID) -> UUID:
        return wallet_id_for(account_id)

    def __init__(self, account_id: UUID) -> None:
        self.account_id = account_id
        self.ledger: dict[str, int] = dict.fromkeys(LEDGER_ACCOUNTS, 0)
        self.charges: dict[str, ChargeState] = {}
        self.orders: dict[str, OrderState] = {}
        #: provider notification id → charge id (each notification counts once)
        self.notifications: dict[str, str] = {}
        self.reconciliations: list[Reconciliation] = []
        #: 0 = no low-balance notice
        self.low_balance_threshold = 0
        self.low_balance_armed = True

    @classmethod
    def open(cls, account_id: UUID) -> Wallet:
        return cls._create(cls.Opened, id=cls.create_id(account_id), account_id=account_id)

    # -- what the owner sees ------------------------------------------------

    @property
    def balance(self) -> int:
        """Spendable (confirmed) yen."""
        return self.ledger[CUSTOMER_BALANCE]

    @property
    def pending(self) -> int:
        """Yen of top-ups waiting for the provider."""
        return self.ledger[PENDING_CHARGES]

    def charge(self, charge_id: UUID) -> ChargeState:
        try:
            return self.charges[str(charge_id)]
        except KeyError:
            raise ChargeNotFoundError(charge_id=str(charge_id)) from None

    def pending_charges(self) -> int:
        return sum(1 for c in self.charges.values() if c["status"] == "pending")

    # -- events -------------------------------------------------------------

    class LedgerEvent(Aggregate.Event):
        """An event that moves money: its postings are applied before its own record."""

        def postings(self) -> list[Posting]:
            return []

        def apply(self, aggregate: Wallet) -> None:
            for posting in self.postings():
                aggregate.ledger[posting.debit] -= posting.amount
                aggregate.ledger[posting.credit] += posting.amount
            if aggregate.ledger[CUSTOMER_BALANCE] >= aggregate.low_balance_threshold:
                aggregate.low_balance_armed = True
            self.record(aggregate)

        def record(self, wallet: Wallet) -> None:
            """This event's own state change (assignments only)."""

    class ChargeRequested(LedgerEvent):
        charge_id: UUID
        method: str
        amount: int
        payment: dict[str, str]
        expires_at: datetime | None

        def postings(self) -> list[Posting]:
            return [Posting(PROVIDER_CLEARING, PENDING_CHARGES, self.amount)]

        def record(self, wallet: Wallet) -> None:
            wallet.charges[str(self.charge_id)] = ChargeState(
                method=self.method,
                amount=self.amount,
                status="pending",
                requested_at=self.timestamp,
                expires_at=self.expires_at,
                payment=dict(self.payment),
                decline_reason="",
            )

    class ChargeConfirmed(LedgerEvent):
        charge_id: UUID
        method: str
        amount: int
        notification_id: str
        balance_after: int

        def postings(self) -> list[Posting]:
            return [Posting(PENDING_CHARGES, CUSTOMER_BALANCE, self.amount)]

        def record(self, wallet: Wallet) -> None:
            wallet.charges[str(self.charge_id)]["status"] = "confirmed"
            if self.notification_id:
                wallet.notifications[self.notification_id] = str(self.charge_id)

    class ChargePartiallyPaid(LedgerEvent):
        """Part of a bank transfer arrived: credited at once, the rest still awaited."""

        charge_id: UUID
        method: str
        amount: int
        paid: int
        requested: int
        notification_id: str
        balance_after: int

        def postings(self) -> list[Posting]:
            return [Posting(PENDING_CHARGES, CUSTOMER_BALANCE, self.amount)]

        def record(self, wallet: Wallet) -> None:
            wallet.charges[str(self.charge_id)]["paid"] = self.paid
            wallet.notifications[self.notification_id] = str(self.charge_id)

    class ChargeDeclined(LedgerEvent):
        charge_id: UUID
        amount: int
        reason: str
        notification_id: str

        def postings(self) -> list[Posting]:
            return [Posting(PENDING_CHARGES, PROVIDER_CLEARING, self.amount)]

        def record(self, wallet: Wallet) -> None:
            wallet.charges[str(self.charge_id)]["status"] = "declined"
            wallet.charges[str(self.charge_id)]["decline_reason"] = self.reason
            if self.notification_id:
                wallet.notifications[self.notification_id] = str(self.charge_id)

    class ChargeExpired(LedgerEvent):
        charge_id: UUID
        amount: int

        def postings(self) -> list[Posting]:
            return [Posting(PENDING_CHARGES, PROVIDER_CLEARING, self.amount)]

        def record(self, wallet: Wallet) -> None:
            wallet.charges[str(self.charge_id)]["status"] = "expired"

    class PaymentNeedsReconciliation(LedgerEvent):
        """A payment the wallet did not credit (late, or not what was asked): for the operator."""

        charge_id: UUID
        notification_id: str
        amount: int
        reason: str

        def record(self, wallet: Wallet) -> None:
            wallet.notifications[self.notification_id] = str(self.charge_id)
            wallet.reconciliations.append(
                Reconciliation(
                    charge_id=str(self.charge_id),
                    notification_id=self.notification_id,
                    amount=self.amount,
                    reason=self.reason,
                    recorded_at=self.timestamp,
                )
            )

    class Debited(LedgerEvent):
        order_id: UUID
        amount: int
        balance_after: int

        def postings(self) -> list[Posting]:
            return [Posting(CUSTOMER_BALANCE, SALES, self.amount)]

        def record(self, wallet: Wallet) -> None:
            key = str(self.order_id)
            awaited = wallet.orders[key]["refund_awaited"] if key in wallet.orders else 0
            wallet.orders[key] = OrderState(
                outcome="debited",
                requested=self.amount,
                debited=self.amount,
                refunded=0,
                refund_awaited=awaited,
            )

    class DebitRejected(LedgerEvent):
        order_id: UUID
        amount: int
        reason: str
        balance: int

        def record(self, wallet: Wallet) -> None:
            key = str(self.order_id)
            awaited = wallet.orders[key]["refund_awaited"] if key in wallet.orders else 0
            wallet.orders[key] = OrderState(
                outcome="rejected",
                requested=self.amount,
                debited=0,
                refunded=0,
                refund_awaited=awaited,
            )

    class RefundAwaited(LedgerEvent):
        """A refund request arrived before its order's debit: applied when the debit comes."""

        order_id: UUID
        amount: int

        def record(self, wallet: Wallet) -> None:
            wallet.orders[str(self.order_id)] = OrderState(
                outcome="awaiting_debit",
                requested=0,
                debited=0,
                refunded=0,
                refund_awaited=self.amount,
            )

    class Refunded(LedgerEvent):
        order_id: UUID
        amount: int
        balance_after: int

        def postings(self) -> list[Posting]:
            return [Posting(REFUNDS, CUSTOMER_BALANCE, self.amount)]

        def record(self, wallet: Wallet) -> None:
            wallet.orders[str(self.order_id)]["refunded"] = self.amount

    class LowBalanceThresholdSet(LedgerEvent):
        threshold: int

        def record(self, wallet: Wallet) -> None:
            wallet.low_balance_threshold = self.threshold
            wallet.low_balance_armed = True

    class BalanceLow(LedgerEvent):
        """The balance went below the owner's threshold: the owner is told once per crossing."""

        balance: int
        threshold: int

        def record(self, wallet: Wallet) -> None:
            wallet.low_balance_armed = False

    # -- top-ups ------------------------------------------------------------

    def request_charge(
        self,
        charge_id: UUID,
        method: str,
        amount: int,
        payment: dict[str, str],
        expires_at: datetime | None,
    ) -> None:
        if amount <= 0 or method not in METHODS:
            raise ValueError("a charge is a positive amount by a known method")
        if str(charge_id) in self.charges:
            raise DuplicateChargeError(charge_id=str(charge_id))
        if self.pending_charges() >= MAX_PENDING_CHARGES:
            raise TooManyPendingChargesError
        self.trigger_event(
            self.ChargeRequested,
            charge_id=charge_id,
            method=method,
            amount=amount,
            payment=dict(payment),
            expires_at=expires_at,
        )

    def confirm_charge(
        self, charge_id: UUID, amount_paid: int, notification_id: str = ""
    ) -> NoticeResult:
        """The provider says the charge was paid: credit it once, or record why not.

        A notification tells of one payment (``amount_paid`` is what that transfer
        brought); without one (a card answer, asking the provider) ``amount_paid`` is
        everything the provider has received for the charge."""
        charge = self.charge(charge_id)
        # yen of a bank transfer credited so far (its parts that arrived)
        already = 0 if charge["status"] == "confirmed" else charge.get("paid", 0)
        arrived = amount_paid if notification_id else amount_paid - already
        # a payment learnt without a notification is keyed by its charge (and, after a
        # part of a transfer, by the provider's total): recorded at most once too
        key = notification_id or (
            f"direct:{charge_id}:{amount_paid}" if already else f"direct:{charge_id}"
        )
        if key in self.notifications or (not notification_id and already and arrived == 0):
            return "duplicate"
        # a part learnt by asking the provider may be notified afterwards: not again (money
        # that really came on top is in the provider's total, credited when asked next)
        if (
            notification_id
            and 0 < arrived <= already
            and any(k.startswith(f"direct:{charge_id}:") for k in self.notifications)
        ):
            return "duplicate"
        # the provider's status and its notification can tell of one payment twice
        if any(
            r["charge_id"] == str(charge_id) and (r["amount"] == amount_paid or not notification_id)
            for r in self.reconciliations
        ):
            return "duplicate"
        if charge["status"] == "confirmed":
            return "already_confirmed"
        missing = charge["amount"] - already
        short = charge["method"] == "bank_transfer" and 0 < arrived < missing
        if charge["status"] == "pending" and short:
            # credited now; the rest stays pending (the customer is told what is missing)
            self.trigger_event(
                self.ChargePartiallyPaid,
                charge_id=charge_id,
                method=charge["method"],
                amount=arrived,
                paid=already + arrived,
                requested=charge["amount"],
                notification_id=notification_id or f"direct:{charge_id}:{amount_paid}",
                balance_after=self.balance + arrived,
            )
            return "partially_credited"
        if charge["status"] != "pending" or arrived != missing:
            reason = (
                f"charge_{charge['status']}" if charge["status"] != "pending" else "amount_mismatch"
            )
            self.trigger_event(
                self.PaymentNeedsReconciliation,
                charge_id=charge_id,
                notification_id=key,
                amount=amount_paid,
                reason=reason,
            )
            return "recorded_for_reconciliation"
        self.trigger_event(
            self.ChargeConfirmed,
            charge_id=charge_id,
            method=charge["method"],
            amount=missing,
            notification_id=notification_id,
            balance_after=self.balance + missing,
        )
        return "credited"

    def decline_charge(self, charge_id: UUID, reason: str, notification_id: str = "") -> bool:
        """The provider refused or cancelled a pending charge; True when this changed it."""
        charge = self.charge(charge_id)
        if notification_id and notification_id in self.notifications:
            return False
        if charge["status"] != "pending":
            return False
        self.trigger_event(
            self.ChargeDeclined,
            charge_id=charge_id,
            amount=missing_of(charge),
            reason=reason,
            notification_id=notification_id,
        )
        return True

    def expire_charge(self, charge_id: UUID, now: datetime) -> bool:
        """An unpaid charge past its deadline stops being pending; True when it expired now."""
        charge = self.charge(charge_id)
        deadline = charge["expires_at"]
        if charge["status"] != "pending" or deadline is None or deadline > now:
            return False
        self.trigger_event(self.ChargeExpired, charge_id=charge_id, amount=missing_of(charge))
        return True

    # -- orders -------------------------------------------------------------

    def debit(self, order_id: UUID, amount: int) -> DebitOutcome:
        """Pay an order once; a repeated request gets the first outcome and changes nothing."""
        if amount <= 0:
            raise ValueError("a debit is a positive amount")
        order = self.orders.get(str(order_id))
        if order is not None and order["outcome"] != "awaiting_debit":
            return DebitOutcome(
                order_id, order["outcome"] == "debited", order["requested"], self.balance
            )
        if amount > self.balance:
            self.trigger_event(
                self.DebitRejected,
                order_id=order_id,
                amount=amount,
                reason="insufficient_funds",
                balance=self.balance,
            )
            return DebitOutcome(order_id, False, amount, self.balance)
        self.trigger_event(
            self.Debited, order_id=order_id, amount=amount, balance_after=self.balance - amount
        )
        if order is not None:  # the refund request came first: apply it now
            self._refund(order_id, min(order["refund_awaited"], amount))
        self._notice_low_balance()
        return DebitOutcome(order_id, True, amount, self.balance)

    def refund(self, order_id: UUID, amount: int) -> bool:
        """Give back at most what an order was debited, once; True when money moved now."""
        if amount <= 0:
            raise ValueError("a refund is a positive amount")
        order = self.orders.get(str(order_id))
        if order is None:
            self.trigger_event(self.RefundAwaited, order_id=order_id, amount=amount)
            return False
        if order["outcome"] != "debited" or order["refunded"] > 0:
            return False
        self._refund(order_id, min(amount, order["debited"]))
        return True

    def _refund(self, order_id: UUID, amount: int) -> None:
        self.trigger_event(
            self.Refunded, order_id=order_id, amount=amount, balance_after=self.balance + amount
        )

    # -- low-balance notice -------------------------------------------------

    def set_low_balance_threshold(self, threshold: int) -> None:
        """0 turns the notice off."""
        if threshold < 0:
            raise ValueError("a threshold is zero or more yen")
        if threshold != self.low_balance_threshold:
            self.trigger_event(self.LowBalanceThresholdSet, threshold=threshold)

    def _notice_low_balance(self) -> None:
        threshold = self.low_balance_threshold
        if threshold > 0 and self.balance < threshold and self.low_balance_armed:
            self.trigger_event(self.BalanceLow, balance=self.balance, threshold=threshold)


class ChargeRef(Aggregate):
    """Which wallet a charge belongs to (a provider notification names only the charge)."""

    class Created(Aggregate.Created):
        charge_id: UUID
        account_id: UUID

    def __init__(self, charge_id: UUID, account_id: UUID) -> None:
        self.charge_id = charge_id
        self.account_id = account_id

    @classmethod
    def make(cls, charge_id: UUID, account_id: UUID) -> ChargeRef:
        return cls._create(
            cls.Created, id=charge_ref_id(charge_id), charge_id=charge_id, account_id=account_id
        )
