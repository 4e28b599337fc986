"""Debit and refund requests delivered twice and out of order end in the same state.

The saga's messages may arrive in any order, more than once (a redelivery: the
same message; a resend: the same request in a new message). Whatever the order,
the balance, the statement's movements and the published WalletDebited /
WalletRefunded events are the same. Also: a refund of a rejected order, a second
refund of one order and a refund larger than the debit.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from pbx_events.envelope import Message, parse

FUNDS = 10_000
DEBIT = 3_000
REFUND = 1_000

#: D/R the debit/refund request, D2/R2 the same request resent in a new message;
#: a name given twice is the same message delivered twice
ORDERINGS = {
    "in_order": ["D", "R"],
    "refund_before_debit": ["R", "D"],
    "each_delivered_twice": ["D", "D", "R", "R"],
    "each_resent": ["D", "D2", "R", "R2"],
    "refund_before_debit_each_twice": ["R", "R", "D", "D"],
    "interleaved_twice": ["D", "R", "D", "R"],
    "reversed": ["R2", "R", "D2", "D"],
    "refund_resent_after_debit": ["R", "D", "R2", "D2"],
}


async def settle(wallets: Any) -> None:
    """Everything recorded is published and in the read model."""
    await wallets.published_all()
    await wallets.quiesce()
    await asyncio.sleep(0.3)  # a duplicate publication would arrive by now


async def final_state(wallets: Any, account: uuid.UUID, order: uuid.UUID) -> dict[str, Any]:
    """What the owner and the rest of the system can see, without times and ids."""
    await settle(wallets)

    def published(name: str) -> list[tuple[Any, ...]]:
        events = [parse(m) for m in wallets.of_type(name)]
        assert all(e.account_id == account for e in events)
        return [(e.order_id == order, e.amount, getattr(e, "balance_after", None)) for e in events]

    lines = await wallets.statement(account)
    return {
        "balance": (await wallets.balance(account))["balance"],
        "movements": [
            (i["kind"], i["amount"], i["balance_after"], i["order_id"] == str(order)) for i in lines
        ],
        "debited": published("WalletDebited"),
        "rejected": published("WalletDebitRejected"),
        "refunded": published("WalletRefunded"),
    }


EXPECTED = {
    "balance": FUNDS - DEBIT + REFUND,
    "movements": [
        ("refunded", REFUND, FUNDS - DEBIT + REFUND, True),
        ("debited", -DEBIT, FUNDS - DEBIT, True),
        ("charge_confirmed", FUNDS, FUNDS, False),
    ],
    "debited": [(True, DEBIT, FUNDS - DEBIT)],
    "rejected": [],
    "refunded": [(True, REFUND, FUNDS - DEBIT + REFUND)],
}


def requests(
    wallets: Any, account: uuid.UUID, order: uuid.UUID, debit: int, refund: int
) -> dict[str, Message]:
    return {
        "D": wallets.message(wallets.debit(account, order, debit)),
        "D2": wallets.message(wallets.debit(account, order, debit)),
        "R": wallets.message(wallets.refund(account, order, refund)),
        "R2": wallets.message(wallets.refund(account, order, refund)),
    }


@pytest.mark.parametrize("ordering", list(ORDERINGS))
async def test_any_delivery_order_gives_the_same_state(wallets: Any, ordering: str) -> None:
    account = await wallets.funded(FUNDS)
    order = uuid.uuid4()
    sent = requests(wallets, account, order, DEBIT, REFUND)
    await wallets.deliver(*(sent[name] for name in ORDERINGS[ordering]))
    assert await final_state(wallets, account, order) == EXPECTED


async def test_all_at_once_out_of_order_gives_the_same_state(wallets: Any) -> None:
    account = await wallets.funded(FUNDS)
    order = uuid.uuid4()
    sent = requests(wallets, account, order, DEBIT, REFUND)
    # one publish: the consumer handles them together, in whatever order they come
    await wallets.publish(sent["R"], sent["R2"], sent["D2"], sent["R"], sent["D"], sent["D2"])
    await wallets.wait_for(lambda: wallets.of_type("WalletRefunded"))
    assert await final_state(wallets, account, order) == EXPECTED


@pytest.mark.parametrize("refund_first", [False, True], ids=["debit_first", "refund_first"])
async def test_a_refund_for_a_rejected_order_moves_nothing(
    wallets: Any, refund_first: bool
) -> None:
    account = await wallets.funded(1_000)
    order = uuid.uuid4()
    sent = requests(wallets, account, order, 5_000, 5_000)
    delivery = ["R", "D", "R2"] if refund_first else ["D", "R", "R2"]
    await wallets.deliver(*(sent[name] for name in delivery))
    assert await final_state(wallets, account, order) == {
        "balance": 1_000,
        "movements": [
            ("charge_confirmed", 1_000, 1_000, False),
        ],
        "debited": [],
        "rejected": [(True, 5_000, None)],
        "refunded": [],
    }
    rejected = parse(wallets.of_type("WalletDebitRejected")[0])
    assert (rejected.reason, rejected.balance) == ("insufficient_funds", 1_000)
    wallet = await asyncio.to_thread(wallets.app.find_wallet, account)
    assert wallet.orders[str(order)]["refunded"] == 0


async def test_a_second_refund_for_one_order_moves_nothing(wallets: Any) -> None:
    account = await wallets.funded(FUNDS)
    order = uuid.uuid4()
    sent = requests(wallets, account, order, DEBIT, REFUND)
    more = wallets.message(wallets.refund(account, order, DEBIT - REFUND))  # the rest, later
    await wallets.deliver(sent["D"], sent["R"], more, sent["R2"])
    assert await final_state(wallets, account, order) == EXPECTED


@pytest.mark.parametrize("refund_first", [False, True], ids=["debit_first", "refund_first"])
async def test_a_refund_larger_than_the_debit_is_capped_at_the_debit(
    wallets: Any, refund_first: bool
) -> None:
    account = await wallets.funded(FUNDS)
    order = uuid.uuid4()
    sent = requests(wallets, account, order, DEBIT, DEBIT + 2_000)
    await wallets.deliver(*(sent[name] for name in (["R", "D"] if refund_first else ["D", "R"])))
    assert await final_state(wallets, account, order) == {
        "balance": FUNDS,
        "movements": [
            ("refunded", DEBIT, FUNDS, True),
            ("debited", -DEBIT, FUNDS - DEBIT, True),
            ("charge_confirmed", FUNDS, FUNDS, False),
        ],
        "debited": [(True, DEBIT, FUNDS - DEBIT)],
        "rejected": [],
        "refunded": [(True, DEBIT, FUNDS)],
    }
