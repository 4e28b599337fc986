"""The wallet service as a state machine: every command against a model and the ledger's rules.

Hypothesis drives ``WalletService`` on the in-memory store, with a clock the test moves and
the sandbox provider, through top-ups by the four methods (cards approved and declined,
amounts out of range, too many unpaid charges), payments (in full, short or over), provider
notifications (held back, sent again, cancellations, unknown charges), net-bank returns,
expiry (one charge, or the timer over the read model), debits and refunds (new, repeated,
unknown and rejected orders), restarts from the stored events (with and without
snapshots), and read-model rebuilds and replayed batches.

After every step the projection catches up and these must hold: every ledger balances
to zero (each wallet, and the read model's postings); balance and pending are never
negative; each wallet's ledger is the sum of its stored events' postings and equals the
model and the read model; an order is debited at most once and refunded at most what
was debited, once; a payment that is not credited (late, or not what was asked) is
recorded for reconciliation once, however the wallet learns of it (the notification,
sent again, or asking the provider at a bank return or the deadline).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID, uuid4

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from pbx_events.relay import FollowerSettings
from pbx_kit.problems import RuleViolationError
from pbx_wallet import errors
from pbx_wallet.application import WalletService
from pbx_wallet.commands import (
    DebitWallet,
    ReceivePaymentNotice,
    RefundOrder,
    RequestTopUp,
    SetLowBalanceThreshold,
)
from pbx_wallet.domain.wallet import (
    LEDGER_ACCOUNTS,
    MAX_PENDING_CHARGES,
    TOP_UP_LIMITS,
    Wallet,
)
from pbx_wallet.ledger import MemoryLedgerStore, StatementLine
from pbx_wallet.payments import PAYMENT_WINDOWS, SandboxProvider, SignedNotification, verify
from pbx_wallet.projections import LedgerProjection
from pbx_wallet.scheduler import ChargeExpiry

T = TypeVar("T")

ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
SECRET = b"stateful-sandbox-secret"
ACCOUNTS = tuple(UUID(f"0000000{n}-0000-4000-8000-000000000000") for n in (1, 2))
START = datetime(2025, 4, 1, 0, 0, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)

CARD = "credit_card"
AWAITING_METHODS = ("net_bank", "convenience_store", "bank_transfer")
#: an order amount relative to what there is (the balance, or what the order was debited)
SHARES = st.sampled_from(["part", "part", "all", "more"])


def top_up_amounts(method: str) -> st.SearchStrategy[int]:
    """Ordinary amounts, and the method's limits with one yen either side."""
    low, high = TOP_UP_LIMITS[method]
    return st.one_of(st.integers(low, 30_000), st.sampled_from([low - 1, low, high, high + 1]))


CLOCK_STEPS = st.sampled_from(
    [
        timedelta(minutes=10),
        timedelta(minutes=15),
        timedelta(minutes=20),
        timedelta(hours=1),
        timedelta(days=2),
        timedelta(days=4),
        timedelta(days=8),
    ]
)


class Clock:
    """The service's clock (payment deadlines, signature ages), moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class RestartableWalletService(WalletService):
    """WalletService reading the events (and snapshots) an earlier instance stored, if given."""

    # small, so that wallets are loaded from snapshots within an example
    snapshotting_intervals = cast(Any, {Wallet: 4})

    def __init__(
        self,
        *,
        provider: SandboxProvider,
        clock: Clock,
        previous: WalletService | None = None,
        keep_snapshots: bool = True,
    ) -> None:
        self._previous = previous
        self._keep_snapshots = keep_snapshots
        super().__init__(ENV, provider=provider, clock=clock)

    def construct_recorder(self) -> Any:
        if self._previous is not None:
            return self._previous.recorder
        return super().construct_recorder()

    def construct_snapshot_store(self) -> Any:
        if self._previous is not None and self._keep_snapshots:
            return self._previous.snapshots
        return super().construct_snapshot_store()


# -- the model ------------------------------------------------------------------


@dataclass
class ChargeModel:
    charge_id: UUID
    account_id: UUID
    method: str
    amount: int
    expires_at: datetime
    #: what the wallet should say: pending, confirmed, declined, expired
    status: str
    #: what the provider knows: unpaid, paid (``paid`` yen), declined
    provider: str = "unpaid"
    paid: int = 0
    #: yen of a short bank transfer credited while the rest is awaited
    credited: int = 0
    #: a part was learnt by asking the provider (its notification may still come)
    asked: bool = False


@dataclass
class OrderModel:
    #: debited, rejected, or awaiting_debit (its refund request came first)
    outcome: str
    requested: int = 0
    debited: int = 0
    refunded: int = 0
    awaited: int = 0


@dataclass
class AccountModel:
    opened: bool = False
    balance: int = 0
    pending: int = 0
    orders: dict[UUID, OrderModel] = field(default_factory=dict)
    #: notification ids the wallet acted on ("direct:<charge>" for what the provider said)
    counted: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class ReadModel:
    position: int
    totals: dict[UUID, tuple[int, int] | None]
    statements: dict[UUID, list[StatementLine]]
    ledger_sums: dict[str, int]
    due: frozenset[tuple[UUID, UUID]]
    unused_balance: int
    reconciliations: tuple[tuple[str, str, int, str], ...]


async def read_model(store: MemoryLedgerStore) -> ReadModel:
    statements = {a: (await store.statement(a, 10_000, 0))[0] for a in ACCOUNTS}
    reconciliations = await store.reconciliations()
    return ReadModel(
        position=await store.position(),
        totals={a: await store.totals(a) for a in ACCOUNTS},
        statements=statements,
        ledger_sums={k: v for k, v in (await store.ledger_sums()).items() if v},
        due=frozenset(await store.due_charges(FAR_FUTURE, 10_000)),
        unused_balance=(await store.unused_balance(FAR_FUTURE)).total,
        reconciliations=tuple(
            sorted(
                (str(r["charge_id"]), r["notification_id"], r["amount"], r["reason"])
                for r in reconciliations
            )
        ),
    )


async def drained(projection: LedgerProjection, store: MemoryLedgerStore) -> ReadModel:
    await projection.drain()
    return await read_model(store)


def verified(signed: SignedNotification, now: datetime) -> ReceivePaymentNotice:
    """What the webhook makes of a signed notification."""
    verify([SECRET], signed.signature, signed.body, now)
    body = json.loads(signed.body)
    paid_at = body.get("paid_at")
    return ReceivePaymentNotice(
        notification_id=body["notification_id"],
        charge_id=UUID(body["charge_id"]),
        status=body["status"],
        amount=body["amount"],
        paid_at=datetime.fromisoformat(paid_at) if paid_at else None,
    )


class WalletMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.provider = SandboxProvider(SECRET, clock=self.clock)
        self.app = RestartableWalletService(provider=self.provider, clock=self.clock)
        self.store = MemoryLedgerStore()
        self.projection = LedgerProjection(self.app, self.store)
        self.accounts = {a: AccountModel() for a in ACCOUNTS}
        self.charges: dict[UUID, ChargeModel] = {}
        #: notifications the provider sent that have not arrived yet
        self.held: list[ReceivePaymentNotice] = []
        #: notifications that arrived (at least once)
        self.delivered: list[ReceivePaymentNotice] = []
        #: charges whose payment is recorded for reconciliation (paid late, or not what was asked)
        self.reconciled: set[UUID] = set()
        self.orders_made = 0
        # one loop per example (and its worker threads), not one per step
        self.loop = asyncio.new_event_loop()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    def batch_after(self, position: int, size: int) -> list[tuple[int, Any]]:
        return [
            (n.id, self.app.mapper.to_domain_event(n))
            for n in self.app.notifications_after(position, size)
        ]

    def caught_up(self) -> ReadModel:
        """The projection's batches handled in this thread (``drain`` hops threads per batch,
        which would be most of the run time here)."""
        position = self.projection.load_position()
        while batch := self.batch_after(position, 500):
            position = batch[-1][0]
            self.run(self.projection.handle_batch(batch, self.projection.prepare(batch)))
            self.projection.store_position(position)
        return self.run(read_model(self.store))

    def teardown(self) -> None:
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()

    # -- model helpers ----------------------------------------------------------

    def pending_charges(self, account_id: UUID) -> int:
        return sum(
            1 for c in self.charges.values() if c.account_id == account_id and c.status == "pending"
        )

    def settle(self, charge: ChargeModel, status: str) -> None:
        account = self.accounts[charge.account_id]
        assert charge.status == "pending"
        rest = charge.amount - charge.credited
        account.pending -= rest
        if status == "confirmed":
            account.balance += rest
        charge.status = status

    def expect_payment(
        self, charge: ChargeModel, amount: int, notification_id: str = ""
    ) -> set[str]:
        """A payment the provider reports: credited once, in full, while pending (a bank
        transfer also in parts: what arrived, the rest awaited); else recorded for
        reconciliation once (whether the notification or asking told us). Asking the
        provider tells everything paid so far, a notification one payment."""
        account = self.accounts[charge.account_id]
        already = 0 if charge.status == "confirmed" else charge.credited
        arrived = amount if notification_id else amount - already
        key = notification_id or (
            f"direct:{charge.charge_id}:{amount}" if already else f"direct:{charge.charge_id}"
        )
        if key in account.counted or (not notification_id and already and arrived == 0):
            return {"duplicate"}
        if notification_id and charge.asked and 0 < arrived <= already:
            return {"duplicate"}
        if charge.status == "confirmed":
            return {"already_confirmed"}
        rest = charge.amount - already
        if (
            charge.status == "pending"
            and charge.method == "bank_transfer"
            and 0 < arrived < rest
            and charge.charge_id not in self.reconciled
        ):
            account.counted.add(key)
            account.balance += arrived
            account.pending -= arrived
            charge.credited += arrived
            charge.asked = charge.asked or not notification_id
            return {"partially_credited"}
        if charge.status != "pending" or arrived != rest:
            account.counted.add(key)
            if charge.charge_id in self.reconciled:
                # the same payment, learnt a second way
                return {"recorded_for_reconciliation", "duplicate"}
            self.reconciled.add(charge.charge_id)
            return {"recorded_for_reconciliation"}
        self.settle(charge, "confirmed")
        if notification_id:
            account.counted.add(notification_id)
        return {"credited"}

    def expect_notice(self, notice: ReceivePaymentNotice) -> set[str]:
        charge = self.charges[notice.charge_id]
        account = self.accounts[charge.account_id]
        if notice.notification_id in account.counted:
            return {"duplicate"}
        if notice.status == "paid":
            return self.expect_payment(charge, notice.amount, notice.notification_id)
        if charge.status != "pending":
            return {"duplicate"}
        self.settle(charge, "declined")
        account.counted.add(notice.notification_id)
        return {"declined"}

    def expect_settled_by_provider(self, charge: ChargeModel, *, expire: bool) -> bool:
        """What asking the provider does (a bank return; at the deadline, ``expire``)."""
        if charge.provider == "paid":
            if self.expect_payment(charge, charge.paid) == {"credited"}:
                return True
            # paid, but not what was asked: at its deadline it ends like an unpaid charge
        elif charge.provider == "declined":
            if charge.status != "pending":
                return False
            self.settle(charge, "declined")
            return True
        if expire and charge.status == "pending" and charge.expires_at <= self.clock():
            self.settle(charge, "expired")
            return True
        return False

    def deliver(self, notice: ReceivePaymentNotice) -> None:
        expected = self.expect_notice(notice)
        event(f"notification: {' or '.join(sorted(expected))}")
        assert self.app.receive_payment_notice(notice) in expected
        if notice not in self.delivered:
            self.delivered.append(notice)

    def top_up_refusal(self, account_id: UUID, method: str, amount: int) -> type[Exception] | None:
        low, high = TOP_UP_LIMITS[method]
        if not low <= amount <= high:
            return RuleViolationError
        if self.pending_charges(account_id) >= MAX_PENDING_CHARGES:
            return errors.TooManyPendingChargesError
        return None

    def new_charge(
        self, charge_id: UUID, account_id: UUID, method: str, amount: int
    ) -> ChargeModel:
        assert charge_id not in self.charges
        charge = ChargeModel(
            charge_id=charge_id,
            account_id=account_id,
            method=method,
            amount=amount,
            expires_at=self.clock() + PAYMENT_WINDOWS[method],
            status="pending",
        )
        self.charges[charge_id] = charge
        self.accounts[account_id].opened = True
        self.accounts[account_id].pending += amount
        return charge

    def order_amount(self, data: st.DataObject, share: str, available: int) -> int:
        if share == "part":
            return data.draw(st.integers(1, max(available, 1_000)), label="amount")
        if share == "all":
            return max(available, 1)
        return available + data.draw(st.integers(1, 1_000), label="more by")

    def new_order_id(self) -> UUID:
        self.orders_made += 1
        return UUID(int=(0xB << 124) + self.orders_made)

    # -- top-ups ----------------------------------------------------------------

    @initialize(amount=st.integers(1_000, 30_000))
    def first_account_is_funded(self, amount: int) -> None:
        """Most examples then spend money (the second account starts without a wallet)."""
        self.top_up_by_card(ACCOUNTS[0], amount, "tok_visa")

    @initialize(account_id=st.sampled_from(ACCOUNTS), data=st.data())
    def a_charge_awaits_payment(self, account_id: UUID, data: st.DataObject) -> None:
        """Most examples then pay, notify and expire."""
        self.top_up_awaiting_payment(account_id, data)

    @rule(
        account_id=st.sampled_from(ACCOUNTS),
        amount=top_up_amounts(CARD),
        token=st.sampled_from(["tok_visa", "tok_visa", "tok_decline_insufficient_funds", None]),
    )
    def top_up_by_card(self, account_id: UUID, amount: int, token: str | None) -> None:
        command = RequestTopUp(account_id, amount, CARD, card_token=token)
        refusal = self.top_up_refusal(account_id, CARD, amount)
        if token is None:
            refusal = RuleViolationError
        if refusal is not None:
            event(f"top-up refused: {refusal.__name__}")
            with pytest.raises(refusal):
                self.app.request_top_up(command)
            return
        if token == "tok_visa":
            charge_id, state = self.app.request_top_up(command)
            charge = self.new_charge(charge_id, account_id, CARD, amount)
            charge.provider, charge.paid = "paid", amount
            self.settle(charge, "confirmed")
            assert state["status"] == "confirmed"
        else:
            with pytest.raises(errors.CardDeclinedError) as declined:
                self.app.request_top_up(command)
            assert declined.value.details["reason"] == "insufficient_funds"
            charge = self.new_charge(
                UUID(str(declined.value.details["charge_id"])), account_id, CARD, amount
            )
            charge.provider = "declined"
            self.settle(charge, "declined")

    @rule(account_id=st.sampled_from(ACCOUNTS), data=st.data())
    def top_up_awaiting_payment(self, account_id: UUID, data: st.DataObject) -> None:
        method = data.draw(st.sampled_from(AWAITING_METHODS), label="method")
        amount = data.draw(top_up_amounts(method), label="amount")
        command = RequestTopUp(account_id, amount, method)
        refusal = self.top_up_refusal(account_id, method, amount)
        if refusal is not None:
            event(f"top-up refused: {refusal.__name__}")
            with pytest.raises(refusal):
                self.app.request_top_up(command)
            return
        charge_id, state = self.app.request_top_up(command)
        charge = self.new_charge(charge_id, account_id, method, amount)
        assert state["status"] == "pending"
        assert state["amount"] == amount
        assert state["expires_at"] == charge.expires_at
        assert state["payment"]

    # -- the provider -----------------------------------------------------------

    def payable(self) -> list[UUID]:
        return [
            c.charge_id
            for c in self.charges.values()
            if c.method != CARD and c.provider == "unpaid"
        ]

    @precondition(lambda self: self.payable())
    @rule(data=st.data(), wrong_by=st.sampled_from([0, 0, 0, -1, 1]), arrives=st.booleans())
    def customer_pays(self, data: st.DataObject, wrong_by: int, arrives: bool) -> None:
        """The customer pays at the store, the bank counter or the net bank (maybe wrongly)."""
        charge = self.charges[data.draw(st.sampled_from(self.payable()), label="charge")]
        amount = charge.amount + wrong_by
        signed = self.provider.pay(charge.charge_id, self.clock(), amount if wrong_by else None)
        charge.provider, charge.paid = "paid", amount
        notice = verified(signed, self.clock())
        assert (notice.charge_id, notice.status, notice.amount) == (
            charge.charge_id,
            "paid",
            amount,
        )
        if arrives:
            self.deliver(notice)
        else:
            self.held.append(notice)

    @precondition(lambda self: self.payable())
    @rule(data=st.data(), arrives=st.booleans())
    def provider_cancels(self, data: st.DataObject, arrives: bool) -> None:
        charge = self.charges[data.draw(st.sampled_from(self.payable()), label="charge")]
        signed = self.provider.notification(charge.charge_id, "cancelled", 0, self.clock())
        notice = verified(signed, self.clock())
        if arrives:
            self.deliver(notice)
        else:
            self.held.append(notice)

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def held_notification_arrives(self, data: st.DataObject) -> None:
        notice = self.held.pop(data.draw(st.integers(0, len(self.held) - 1), label="held"))
        self.deliver(notice)

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def notification_arrives_again(self, data: st.DataObject) -> None:
        self.deliver(data.draw(st.sampled_from(self.delivered), label="notification"))

    @rule(status=st.sampled_from(["paid", "cancelled"]))
    def notification_for_an_unknown_charge(self, status: str) -> None:
        signed = self.provider.notification(uuid4(), status, 1_000, self.clock())
        with pytest.raises(errors.UnknownChargeNotificationError):
            self.app.receive_payment_notice(verified(signed, self.clock()))

    @precondition(lambda self: self.charges)
    @rule(data=st.data(), someone_else=st.booleans())
    def customer_returns_from_the_bank(self, data: st.DataObject, someone_else: bool) -> None:
        charge = self.charges[data.draw(st.sampled_from(list(self.charges)), label="charge")]
        if someone_else:
            other = next(a for a in ACCOUNTS if a != charge.account_id)
            with pytest.raises(errors.ChargeNotFoundError):
                self.app.return_from_bank(other, charge.charge_id)
            return
        self.expect_settled_by_provider(charge, expire=False)
        state = self.app.return_from_bank(charge.account_id, charge.charge_id)
        assert state["status"] == charge.status

    # -- time -------------------------------------------------------------------

    @rule(step=CLOCK_STEPS)
    def time_passes(self, step: timedelta) -> None:
        self.clock.now += step

    @precondition(lambda self: self.charges)
    @rule(data=st.data())
    def charge_deadline_timer_fires(self, data: st.DataObject) -> None:
        charge = self.charges[data.draw(st.sampled_from(list(self.charges)), label="charge")]
        expected = self.expect_settled_by_provider(charge, expire=True)
        event(f"deadline timer: {charge.status}, changed={expected}")
        assert self.app.expire_charge(charge.account_id, charge.charge_id) is expected

    def due(self) -> list[ChargeModel]:
        return [
            c
            for c in self.charges.values()
            if c.status == "pending" and c.expires_at <= self.clock()
        ]

    @precondition(lambda self: self.due())
    @rule()
    def expiry_scheduler_runs(self) -> None:
        due = self.due()
        expected = sum(self.expect_settled_by_provider(c, expire=True) for c in due)
        event(f"expiry scheduler: {len(due)} due, {expected} changed")
        expiry = ChargeExpiry(self.app, self.store)
        assert self.run(expiry.run_once()) == expected

    # -- orders -----------------------------------------------------------------

    @rule(
        account_id=st.sampled_from(ACCOUNTS),
        data=st.data(),
        again=st.booleans(),
        share=SHARES,
    )
    def debit(self, account_id: UUID, data: st.DataObject, again: bool, share: str) -> None:
        account = self.accounts[account_id]
        if again and account.orders:
            order_id = data.draw(st.sampled_from(sorted(account.orders)), label="order")
        else:
            order_id = self.new_order_id()
        amount = self.order_amount(data, share, account.balance)
        order = account.orders.get(order_id)
        if order is not None and order.outcome != "awaiting_debit":
            event(f"debit repeated: {order.outcome}")
            expected = (order.outcome == "debited", order.requested)
        elif amount > account.balance:
            event("debit rejected")
            awaited = order.awaited if order is not None else 0
            account.orders[order_id] = OrderModel("rejected", requested=amount, awaited=awaited)
            expected = (False, amount)
        else:
            debited = OrderModel("debited", requested=amount, debited=amount)
            account.balance -= amount
            if order is not None:  # its refund request came first
                event("debit after its refund")
                debited.awaited = order.awaited
                debited.refunded = min(order.awaited, amount)
                account.balance += debited.refunded
            account.orders[order_id] = debited
            event(f"debited ({share})")
            expected = (True, amount)
        account.opened = True
        outcome = self.app.debit_wallet(DebitWallet(account_id, order_id, amount))
        assert outcome.order_id == order_id
        assert (outcome.debited, outcome.amount) == expected
        assert outcome.balance == account.balance

    @rule(
        account_id=st.sampled_from(ACCOUNTS),
        data=st.data(),
        which=st.sampled_from(["debited", "debited", "any", "unknown"]),
        share=SHARES,
    )
    def refund(self, account_id: UUID, data: st.DataObject, which: str, share: str) -> None:
        account = self.accounts[account_id]
        candidates = sorted(
            o for o, m in account.orders.items() if which == "any" or m.outcome == "debited"
        )
        if which != "unknown" and candidates:
            order_id = data.draw(st.sampled_from(candidates), label="order")
        else:
            order_id = self.new_order_id()
        order = account.orders.get(order_id)
        amount = self.order_amount(data, share, order.debited if order is not None else 0)
        if order is None:
            event("refund before its debit")
            account.orders[order_id] = OrderModel("awaiting_debit", awaited=amount)
            expected = False
        elif order.outcome != "debited" or order.refunded > 0:
            event(f"refund refused: {order.outcome}, refunded={order.refunded > 0}")
            expected = False
        else:
            event(f"refund: {'all' if amount >= order.debited else 'part'}")
            order.refunded = min(amount, order.debited)
            account.balance += order.refunded
            expected = True
        account.opened = True
        assert self.app.refund_order(RefundOrder(account_id, order_id, amount)) is expected

    @rule(account_id=st.sampled_from(ACCOUNTS), threshold=st.sampled_from([0, 1_000, 50_000]))
    def low_balance_threshold_set(self, account_id: UUID, threshold: int) -> None:
        self.accounts[account_id].opened = True
        wallet = self.app.set_low_balance_threshold(SetLowBalanceThreshold(account_id, threshold))
        assert wallet.low_balance_threshold == threshold

    # -- restarts and the read model --------------------------------------------

    @rule(keep_snapshots=st.booleans())
    def service_restarts(self, keep_snapshots: bool) -> None:
        """A new process on the same stored events; the provider is outside and carries on."""
        self.app = RestartableWalletService(
            provider=self.provider,
            clock=self.clock,
            previous=self.app,
            keep_snapshots=keep_snapshots,
        )
        self.projection = LedgerProjection(self.app, self.store)
        self.run(self.projection.start())

    @rule(data=st.data(), rebuild=st.booleans())
    def read_model_redone(self, data: st.DataObject, rebuild: bool) -> None:
        """A read model rebuilt from the whole log (in other batches) is the one we have; a
        batch handled again (a restart, a second process) changes nothing."""
        live = self.caught_up()
        if rebuild:
            size = data.draw(st.sampled_from([1, 3, 500]), label="batch size")
            store = MemoryLedgerStore()
            projection = LedgerProjection(self.app, store, FollowerSettings(batch_size=size))
            assert self.run(drained(projection, store)) == live
            self.store, self.projection = store, projection
        elif live.position > 0:
            start = data.draw(st.integers(0, live.position - 1), label="after")
            size = data.draw(st.integers(1, 10), label="batch size")
            batch = self.batch_after(start, size)
            self.run(self.projection.handle_batch(batch, self.projection.prepare(batch)))
            assert self.run(read_model(self.store)) == live

    # -- invariants -------------------------------------------------------------

    @invariant()
    def wallets_agree_with_their_events_and_the_model(self) -> None:
        for account_id, model in self.accounts.items():
            wallet = self.app.find_wallet(account_id)
            if wallet is None:
                assert not model.opened
                continue
            assert model.opened
            assert sum(wallet.ledger.values()) == 0, wallet.ledger
            assert wallet.balance >= 0
            assert wallet.pending >= 0

            events = list(self.app.events.get(wallet.id))
            replayed: Wallet | None = None
            ledger = dict.fromkeys(LEDGER_ACCOUNTS, 0)
            debits: Counter[UUID] = Counter()
            refunds: Counter[UUID] = Counter()
            debited: Counter[UUID] = Counter()
            refunded: Counter[UUID] = Counter()
            for stored in events:
                replayed = stored.mutate(replayed)
                if isinstance(stored, Wallet.LedgerEvent):
                    for posting in stored.postings():
                        assert posting.amount > 0
                        ledger[posting.debit] -= posting.amount
                        ledger[posting.credit] += posting.amount
                if isinstance(stored, Wallet.Debited):
                    debits[stored.order_id] += 1
                    debited[stored.order_id] += stored.amount
                if isinstance(stored, Wallet.Refunded):
                    refunds[stored.order_id] += 1
                    refunded[stored.order_id] += stored.amount
            assert ledger == wallet.ledger
            # loaded through the snapshots: the same as replayed from every event
            assert replayed is not None
            assert vars(replayed) == vars(wallet)

            assert (wallet.balance, wallet.pending) == (model.balance, model.pending)
            assert max(debits.values(), default=0) <= 1, debits
            assert max(refunds.values(), default=0) <= 1, refunds
            assert all(refunded[o] <= debited[o] for o in refunded), (debited, refunded)
            assert dict(debited) == {o: m.debited for o, m in model.orders.items() if m.debited}
            assert dict(refunded) == {o: m.refunded for o, m in model.orders.items() if m.refunded}
            assert {o: state["outcome"] for o, state in wallet.orders.items()} == {
                str(o): m.outcome for o, m in model.orders.items()
            }

            assert {cid: c["status"] for cid, c in wallet.charges.items()} == {
                str(c.charge_id): c.status
                for c in self.charges.values()
                if c.account_id == account_id
            }
            reconciled = [UUID(r["charge_id"]) for r in wallet.reconciliations]
            assert len(reconciled) == len(set(reconciled)), (
                f"a payment recorded for reconciliation twice: {wallet.reconciliations}"
            )
            assert set(reconciled) == {
                c for c in self.reconciled if self.charges[c].account_id == account_id
            }

    @invariant()
    def read_model_agrees_once_caught_up(self) -> None:
        seen = self.caught_up()
        assert seen.position == self.app.max_notification_id()
        wallets = {a: self.app.find_wallet(a) for a in ACCOUNTS}
        for account_id, wallet in wallets.items():
            if wallet is None:
                assert seen.totals[account_id] is None
                continue
            assert seen.totals[account_id] == (wallet.balance, wallet.pending)
            lines = seen.statements[account_id]
            if lines:
                assert (lines[0].balance_after, lines[0].pending_after) == (
                    wallet.balance,
                    wallet.pending,
                )
        assert seen.unused_balance == sum(w.balance for w in wallets.values() if w is not None)
        assert sum(seen.ledger_sums.values()) == 0
        assert seen.ledger_sums == {
            k: total
            for k in LEDGER_ACCOUNTS
            if (total := sum(w.ledger[k] for w in wallets.values() if w is not None))
        }
        assert seen.due == {
            (c.account_id, c.charge_id) for c in self.charges.values() if c.status == "pending"
        }
        assert {UUID(r[0]) for r in seen.reconciliations} == self.reconciled


# one failure at a time: shrinking several at once takes minutes
WalletMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None, report_multiple_bugs=False
)
TestWalletStateMachine = WalletMachine.TestCase
