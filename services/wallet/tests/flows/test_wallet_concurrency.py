"""50 concurrent ¥100 debits against ¥1,000 on real PostgreSQL: exactly 10 succeed.

Once through the application from 50 threads split over two ``WalletService``
instances on one database (so the optimistic-concurrency retry runs, not only
the in-process lock), once as 50 ``DebitRequested`` messages published at once.
Meanwhile the owner keeps reading ``GET /wallets/me``: never a server error.
The owner's low-balance notice is published once, whatever the interleaving.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pbx_events.envelope import parse
from pbx_wallet.commands import DebitWallet
from pbx_wallet.domain.wallet import DebitOutcome
from pbx_wallet.main import make_application

pytestmark = pytest.mark.parametrize("stack_kind", ["real"])

DEBITS = 50
AMOUNT = 100
FUNDS = 1_000
SUCCEEDING = FUNDS // AMOUNT
#: the owner's low-balance threshold: crossed once, by the debit that leaves ¥500
THRESHOLD = 550


class Readers:
    """The owner's concurrent balance reads while the debits run."""

    def __init__(self, wallets: Any, account: uuid.UUID, parallel: int = 8) -> None:
        self.wallets = wallets
        self.account = account
        self.parallel = parallel
        self.stop = asyncio.Event()
        self.statuses: Counter[int] = Counter()
        self.balances: list[int] = []
        self.errors: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def _read(self) -> None:
        headers = self.wallets.auth(self.account)
        while not self.stop.is_set():
            try:
                reply = await self.wallets.client.get("/wallets/me", headers=headers)
            except Exception as exc:  # the in-process transport re-raises what answered 500
                self.statuses[500] += 1
                self.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            self.statuses[reply.status_code] += 1
            if reply.status_code >= 500:
                self.errors.append(reply.text)
            elif reply.status_code == 200:
                self.balances.append(reply.json()["balance"])
            await asyncio.sleep(0)

    def start(self) -> Readers:
        self._tasks = [asyncio.create_task(self._read()) for _ in range(self.parallel)]
        return self

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.gather(*self._tasks)

    def check(self) -> None:
        assert not self.errors, f"server errors during the storm: {self.errors[:3]}"
        assert set(self.statuses) == {200}, self.statuses
        assert self.statuses[200] >= self.parallel, "the readers hardly ran"
        assert all(0 <= b <= FUNDS and b % AMOUNT == 0 for b in self.balances), set(self.balances)


def outcomes(wallets: Any, name: str, orders: list[uuid.UUID]) -> list[Any]:
    """The published outcomes of these orders (not of the wallet's earlier ones)."""
    wanted = set(orders)
    return [e for e in map(parse, wallets.of_type(name)) if e.order_id in wanted]


async def all_decided(wallets: Any, orders: list[uuid.UUID]) -> None:
    def decided() -> int:
        return len(outcomes(wallets, "WalletDebited", orders)) + len(
            outcomes(wallets, "WalletDebitRejected", orders)
        )

    await wallets.wait_for(lambda: decided() >= len(orders), timeout=60)


async def outcomes_published(wallets: Any, account: uuid.UUID, orders: list[uuid.UUID]) -> None:
    """Exactly 10 WalletDebited and 40 WalletDebitRejected, one per order."""
    await all_decided(wallets, orders)
    await wallets.published_all()
    await asyncio.sleep(0.5)  # a duplicate publication would arrive by now
    debited = outcomes(wallets, "WalletDebited", orders)
    rejected = outcomes(wallets, "WalletDebitRejected", orders)
    assert len(debited) == SUCCEEDING
    assert len(rejected) == DEBITS - SUCCEEDING
    per_order = Counter(e.order_id for e in [*debited, *rejected])
    assert per_order == Counter(orders), "each order gets exactly one outcome"
    assert all(e.account_id == account for e in [*debited, *rejected])
    assert all(e.amount == AMOUNT for e in [*debited, *rejected])
    # the debits ran one after another: each left a different balance
    assert sorted(e.balance_after for e in debited) == list(range(0, FUNDS, AMOUNT))
    # a debit was refused only when nothing was left
    assert {(e.reason, e.balance) for e in rejected} == {("insufficient_funds", 0)}
    low = [parse(m) for m in wallets.of_type("WalletBalanceLow")]
    assert [(e.account_id, e.balance, e.threshold) for e in low] == [(account, 500, THRESHOLD)]


async def read_model_agrees(wallets: Any, account: uuid.UUID) -> None:
    await wallets.quiesce()
    money = await wallets.balance(account)
    assert (money["balance"], money["pending"]) == (0, 0)
    store = wallets.runtime.api.state.ledger_store
    assert await store.totals(account) == (0, 0)
    lines = await wallets.statement(account)
    assert [(i["kind"], i["amount"]) for i in lines] == [
        *[("debited", -AMOUNT)] * SUCCEEDING,
        ("charge_confirmed", FUNDS),
    ]
    assert [i["balance_after"] for i in lines[:SUCCEEDING]] == list(range(0, FUNDS, AMOUNT))
    assert len({i["order_id"] for i in lines[:SUCCEEDING]}) == SUCCEEDING
    debited = {str(e.order_id) for e in map(parse, wallets.of_type("WalletDebited"))}
    assert {i["order_id"] for i in lines[:SUCCEEDING]} == debited
    staff = await wallets.client.get(
        f"/wallets/{account}/statement", params={"per_page": 100}, headers=wallets.staff()
    )
    assert staff.status_code == 200, staff.text
    assert staff.json()["items"] == lines
    sums = await store.ledger_sums()
    assert sum(sums.values()) == 0, sums
    assert (sums["customer_balance"], sums["sales"]) == (0, FUNDS)


#: the storm on a new wallet, and on one with a long history (a busy customer's: many
#: earlier orders, here refused ones, which move no money); a bigger wallet takes longer
#: to load, which widens any window for a reader to see a half-applied change
HISTORY = pytest.mark.parametrize("history", [0, 1_000], ids=["new_wallet", "long_history"])


@pytest.fixture(autouse=True)
def threads_switch_often() -> Iterator[None]:
    """Threads take turns far more often than CPython's default 5 ms (as on a loaded host
    with many more threads): interleavings a fast run would rarely hit happen here."""
    default = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(default)


async def funded_with_threshold(wallets: Any, history: int) -> uuid.UUID:
    account = await wallets.funded(FUNDS)
    reply = await wallets.client.patch(
        "/wallets/me", json={"low_balance_threshold": THRESHOLD}, headers=wallets.auth(account)
    )
    assert reply.status_code == 200, reply.text

    def earlier_orders() -> None:
        # recorded in one go (one order at a time would take long): each refused
        wallet = wallets.app.find_wallet(account)
        for _ in range(history):
            assert not wallet.debit(uuid.uuid4(), FUNDS + 1).debited
        wallets.app.save(wallet)

    if history:
        await asyncio.to_thread(earlier_orders)
    await wallets.published_all()
    return account


@HISTORY
async def test_concurrent_debits_through_two_application_instances(
    wallets: Any, history: int
) -> None:
    account = await funded_with_threshold(wallets, history)
    first = wallets.app
    second = await asyncio.to_thread(make_application, wallets.infra, clock=wallets.clock)
    orders = [uuid.uuid4() for _ in range(DEBITS)]
    start = threading.Barrier(DEBITS)

    def debit(index: int) -> DebitOutcome:
        app = first if index % 2 == 0 else second
        start.wait(timeout=30)
        outcome: DebitOutcome = app.debit_wallet(DebitWallet(account, orders[index], AMOUNT))
        return outcome

    loop = asyncio.get_running_loop()
    try:
        with ThreadPoolExecutor(max_workers=DEBITS) as pool:
            readers = Readers(wallets, account).start()
            try:
                results = await asyncio.gather(
                    *(loop.run_in_executor(pool, debit, i) for i in range(DEBITS)),
                    return_exceptions=True,
                )
            finally:
                await readers.finish()
        failed = [r for r in results if isinstance(r, BaseException)]
        assert not failed, f"{len(failed)} debits raised: {failed[:3]!r}"
        readers.check()

        succeeded = [r for r in results if r.debited]
        assert len(succeeded) == SUCCEEDING
        assert sorted(r.balance for r in succeeded) == list(range(0, FUNDS, AMOUNT))
        assert all(r.balance == 0 for r in results if not r.debited)
        assert [r.order_id for r in results] == orders
        # both instances see the same wallet, and it holds exactly one outcome per order
        for app in (first, second):
            wallet = await asyncio.to_thread(app.find_wallet, account)
            assert wallet.balance == 0
            assert Counter(o["outcome"] for o in wallet.orders.values()) == {
                "debited": SUCCEEDING,
                "rejected": DEBITS - SUCCEEDING + history,
            }
        # asking again (either instance) gets the first outcome and changes nothing
        again = await asyncio.to_thread(
            second.debit_wallet, DebitWallet(account, succeeded[0].order_id, AMOUNT)
        )
        assert (again.debited, again.balance) == (True, 0)

        await outcomes_published(wallets, account, orders)
        await read_model_agrees(wallets, account)
    finally:
        await asyncio.to_thread(second.close)


@HISTORY
async def test_concurrent_debit_requests_on_the_bus(wallets: Any, history: int) -> None:
    account = await funded_with_threshold(wallets, history)
    orders = [uuid.uuid4() for _ in range(DEBITS)]
    messages = [wallets.message(wallets.debit(account, order, AMOUNT)) for order in orders]
    readers = Readers(wallets, account).start()
    try:
        await wallets.publish(*messages)
        await all_decided(wallets, orders)
    finally:
        await readers.finish()
    readers.check()
    wallet = await asyncio.to_thread(wallets.app.find_wallet, account)
    assert wallet.balance == 0
    assert Counter(o["outcome"] for o in wallet.orders.values()) == {
        "debited": SUCCEEDING,
        "rejected": DEBITS - SUCCEEDING + history,
    }
    await outcomes_published(wallets, account, orders)
    await read_model_agrees(wallets, account)
