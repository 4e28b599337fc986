"""The cart's copies of other services' facts: duplicates and reordered deliveries give the
same copy (a product's highest version; the newest address, balance and screening by
their producer's position; a cancelled circle or service stays cancelled)."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest

from pbx_cart.domain.copies import AccountCopy, ProductCopy


def state(version: int, price: int) -> dict[str, Any]:
    return {"product_id": str(PRODUCT), "sku": "PHONE-1", "version": version, "unit_price": price}


PRODUCT = uuid.uuid4()
CIRCLE = uuid.uuid4()
SERVICE = uuid.uuid4()


@pytest.mark.parametrize("order", list(itertools.permutations([1, 2, 3])))
def test_a_product_keeps_its_highest_version_whatever_the_order(order: tuple[int, ...]) -> None:
    copy = ProductCopy(state(order[0], order[0] * 1000))
    for version in order[1:]:
        copy.update(state(version, version * 1000))
    copy.update(state(order[-1], order[-1] * 1000))  # a duplicate
    assert (copy.product_version, copy.state["unit_price"]) == (3, 3000)
    assert copy.id == PRODUCT


def apply_all(steps: list[tuple[str, Any]]) -> AccountCopy:
    copy = AccountCopy(uuid.UUID(int=1))
    for name, args in steps:
        getattr(copy, name)(*args)
    return copy


FACTS: list[tuple[str, Any]] = [
    ("shipping_address_changed", ({"city": "江東区"}, 3)),
    ("shipping_address_changed", ({"city": "大阪市北区"}, 9)),
    ("balance_is", (5_000, 4)),
    ("balance_is", (1_200, 8)),
    ("screening_is", ("approved", 5)),
    ("screening_is", ("expired", 11)),
    ("circle_added", (CIRCLE, "2024-09-01")),
    ("circle_cancelled", (CIRCLE,)),
    ("service_activated", (SERVICE, CIRCLE, "unique", "UNIQUE", "ユニーク")),
    ("service_cancelled", (SERVICE, CIRCLE, "unique")),
]


def summary(copy: AccountCopy) -> tuple[Any, ...]:
    return (
        copy.shipping_address,
        copy.balance,
        copy.screening,
        copy.active_circles(),
        copy.uniques_in(str(CIRCLE)),
        {k: v["active"] for k, v in copy.services.items()},
    )


EXPECTED = ({"city": "大阪市北区"}, 1_200, "expired", [], [], {str(SERVICE): False})


@pytest.mark.parametrize("seed", range(25))
def test_an_account_copy_is_the_same_whatever_the_order_and_duplicates(seed: int) -> None:
    import random

    rng = random.Random(seed)
    steps = FACTS + rng.sample(FACTS, 4)  # some delivered twice
    rng.shuffle(steps)
    assert summary(apply_all(steps)) == EXPECTED


def test_in_order_the_copy_follows_each_fact() -> None:
    copy = AccountCopy(uuid.UUID(int=2))
    copy.circle_added(CIRCLE, "2024-09-01")
    copy.service_activated(SERVICE, CIRCLE, "unique", "UNIQUE", "ユニーク")
    assert copy.active_circles() == [str(CIRCLE)]
    assert copy.uniques_in(str(CIRCLE)) == [str(SERVICE)]
    copy.balance_is(3_000, 1)
    copy.balance_is(3_000, 2)  # the same balance at a newer position is still recorded
    copy.balance_is(9_000, 1)  # an older one is not
    assert (copy.balance, copy.positions["balance"]) == (3_000, 2)
