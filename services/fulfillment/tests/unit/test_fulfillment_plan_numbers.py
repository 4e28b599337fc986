"""What a paid order sets in motion (plan_order), per kind of line, with ids derived from
the order; and the phone numbers handed out from each SKU's block: consecutive, valid,
never twice, refused past the block's end."""

from __future__ import annotations

import uuid
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pbx_fulfillment.domain.numbers import BLOCKS, NumberBlock, NumbersExhaustedError
from pbx_fulfillment.domain.plan import (
    Plan,
    plan_order,
    service_id_of,
    service_kind,
    shipment_id_of,
)
from pbx_fulfillment.testing import a_line

CIRCLE = str(uuid.uuid4())
OTHER_CIRCLE = str(uuid.uuid4())
UNIQUE_IN_USE = str(uuid.uuid4())
ORDER = uuid.UUID("6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")


# -- plan_order -----------------------------------------------------------------------------


def test_devices_become_shipment_items_and_shipping_lines_are_left_out() -> None:
    lines = [
        a_line(1, "one_time", "SPA-504G", 2, circle_id=CIRCLE, unique_id=UNIQUE_IN_USE),
        a_line(2, "shipping", "SHIPPING-JP"),
        a_line(3, "one_time", "GXP1625"),
    ]
    plan = plan_order(ORDER, lines, {})
    assert plan.items == [
        {
            "line_no": 1,
            "product_id": lines[0]["product_id"],
            "sku": "SPA-504G",
            "name": "SPA-504G (test)",
            "quantity": 2,
            "circle_id": CIRCLE,
            "unique_id": UNIQUE_IN_USE,
        },
        {
            "line_no": 3,
            "product_id": lines[2]["product_id"],
            "sku": "GXP1625",
            "name": "GXP1625 (test)",
            "quantity": 1,
            "circle_id": None,
            "unique_id": None,
        },
    ]
    assert (plan.activations, plan.cancellations) == ([], [])


@pytest.mark.parametrize(
    ("sku", "kind"),
    [
        ("UNIQUE-STD", "unique"),
        ("UNIQUE-PRO", "unique"),
        ("NUM-03", "phone_number"),
        ("NUM-INTL-US", "phone_number"),
        ("RENT-GXP1625", "rental"),
        ("RENT-HT801", "rental"),
    ],
)
def test_a_monthly_line_activates_the_service_its_sku_names(sku: str, kind: str) -> None:
    assert service_kind(sku) == kind
    plan = plan_order(ORDER, [a_line(4, "monthly", sku, 2, circle_id=CIRCLE)], {})
    assert plan.activations == [
        {
            "service_id": str(service_id_of(ORDER, 4, index)),
            "kind": kind,
            "circle_id": CIRCLE,
            "product_id": str(uuid.uuid5(uuid.NAMESPACE_URL, sku)),
            "sku": sku,
            "name": f"{sku} (test)",
            "phone_number": None,
        }
        for index in range(2)
    ]
    assert (plan.items, plan.cancellations) == ([], [])


def test_a_monthly_sku_fulfillment_does_not_know_is_a_unique() -> None:
    assert service_kind("SUPPORT-PLUS") is None
    plan = plan_order(ORDER, [a_line(1, "monthly", "SUPPORT-PLUS", circle_id=CIRCLE)], {})
    assert [a["kind"] for a in plan.activations] == ["unique"]


def test_cancellation_lines_take_kind_and_circle_from_the_services_in_use() -> None:
    number, rental = str(uuid.uuid4()), str(uuid.uuid4())
    services = {
        number: {"kind": "phone_number", "circle_id": CIRCLE},
        rental: {"kind": "rental", "circle_id": OTHER_CIRCLE},
        str(uuid.uuid4()): {"kind": "unique", "circle_id": CIRCLE},  # not cancelled
    }
    lines = [
        a_line(1, "cancellation", "CANCEL-NUMBER", service_id=number),
        a_line(2, "cancellation", "CANCEL-RENT", service_id=rental),
    ]
    plan = plan_order(ORDER, lines, services)
    assert plan.cancellations == [
        {"service_id": number, "kind": "phone_number", "circle_id": CIRCLE},
        {"service_id": rental, "kind": "rental", "circle_id": OTHER_CIRCLE},
    ]
    assert (plan.items, plan.activations) == ([], [])


def test_an_empty_order_plans_nothing() -> None:
    assert plan_order(ORDER, [], {}) == Plan()


def mixed_lines() -> list[dict[str, Any]]:
    return [
        a_line(1, "monthly", "UNIQUE-STD", 2, circle_id=CIRCLE),
        a_line(2, "monthly", "NUM-03", 1, circle_id=CIRCLE),
        a_line(3, "monthly", "RENT-HT801", 3, circle_id=OTHER_CIRCLE),
    ]


def test_the_same_order_plans_the_same_ids_again() -> None:
    first = plan_order(ORDER, mixed_lines(), {})
    again = plan_order(ORDER, mixed_lines(), {})
    assert first == again
    ids = [a["service_id"] for a in first.activations]
    assert len(ids) == len(set(ids)) == 6
    assert shipment_id_of(ORDER) == shipment_id_of(uuid.UUID(str(ORDER)))


def test_another_order_plans_other_ids() -> None:
    other = uuid.uuid4()
    mine = {a["service_id"] for a in plan_order(ORDER, mixed_lines(), {}).activations}
    theirs = {a["service_id"] for a in plan_order(other, mixed_lines(), {}).activations}
    assert mine.isdisjoint(theirs)
    assert shipment_id_of(ORDER) != shipment_id_of(other)
    assert shipment_id_of(ORDER) not in {uuid.UUID(s) for s in mine | theirs}


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.uuids(), min_size=2, max_size=5, unique=True),
    st.lists(st.integers(1, 4), min_size=1, max_size=4),
)
def test_service_ids_never_collide_across_orders_lines_and_quantities(
    orders: list[uuid.UUID], quantities: list[int]
) -> None:
    lines = [
        a_line(no, "monthly", "UNIQUE-STD", quantity, circle_id=CIRCLE)
        for no, quantity in enumerate(quantities, start=1)
    ]
    ids = [a["service_id"] for o in orders for a in plan_order(o, lines, {}).activations]
    assert len(ids) == len(set(ids)) == len(orders) * sum(quantities)


# -- phone numbers ----------------------------------------------------------------------------

JAPANESE = sorted(sku for sku, block in BLOCKS.items() if block.prefix.startswith("+81"))


def is_valid(number: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse(number))


@pytest.mark.parametrize(
    ("sku", "first"),
    [
        ("NUM-03", ["+81350000000", "+81350000001", "+81350000002"]),
        ("NUM-06", ["+81650000000", "+81650000001", "+81650000002"]),
        ("NUM-011", ["+81115000000", "+81115000001", "+81115000002"]),
        ("NUM-050", ["+815050000000", "+815050000001", "+815050000002"]),
        ("NUM-0120", ["+81120500000", "+81120500001", "+81120500002"]),
        ("NUM-0800", ["+818005000000", "+818005000001", "+818005000002"]),
        ("NUM-0570", ["+81570500000", "+81570500001", "+81570500002"]),
        ("NUM-INTL-US", ["+12125550100", "+12125550101", "+12125550102"]),
        ("NUM-INTL-GB", ["+442079460000", "+442079460001", "+442079460002"]),
    ],
)
def test_a_block_hands_out_consecutive_numbers_from_its_start(sku: str, first: list[str]) -> None:
    block = NumberBlock(sku)
    assert block.take(1) == first[:1]
    assert block.take(2) == first[1:]
    assert block.used == 3
    assert [type(e).__name__ for e in block.collect_events()] == ["Opened", "Taken", "Taken"]


@pytest.mark.parametrize("sku", JAPANESE)
def test_the_first_numbers_of_each_japanese_block_are_valid_e164(sku: str) -> None:
    numbers = NumberBlock(sku).take(50)
    assert all(n.startswith(BLOCKS[sku].prefix) for n in numbers)
    assert all(phonenumbers.region_code_for_number(phonenumbers.parse(n)) == "JP" for n in numbers)
    assert [n for n in numbers if not is_valid(n)] == []
    assert all(
        phonenumbers.format_number(phonenumbers.parse(n), phonenumbers.PhoneNumberFormat.E164) == n
        for n in numbers
    )


@pytest.mark.parametrize("sku", JAPANESE)
def test_every_number_of_each_japanese_block_is_valid_e164(sku: str) -> None:
    """Sampled across the whole block (every 1/2000th and both ends)."""
    block = BLOCKS[sku]
    step = max(1, block.size // 2000)
    subscribers = [*range(block.first, block.last + 1, step), block.last]
    numbers = [f"{block.prefix}{n:0{block.digits}d}" for n in subscribers]
    assert [n for n in numbers if not is_valid(n)] == []


def test_the_foreign_blocks_lie_in_the_ranges_kept_for_fiction() -> None:
    us, gb = BLOCKS["NUM-INTL-US"], BLOCKS["NUM-INTL-GB"]
    assert (us.size, gb.size) == (100, 1000)
    us_numbers = NumberBlock("NUM-INTL-US").take(100)
    assert (us_numbers[0], us_numbers[-1]) == ("+12125550100", "+12125550199")
    gb_numbers = NumberBlock("NUM-INTL-GB").take(1000)
    assert (gb_numbers[0], gb_numbers[-1]) == ("+442079460000", "+442079460999")
    assert all(phonenumbers.is_possible_number(phonenumbers.parse(n)) for n in us_numbers)
    assert all(phonenumbers.is_possible_number(phonenumbers.parse(n)) for n in gb_numbers)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 7), min_size=1, max_size=30))
def test_a_block_never_hands_out_a_number_twice(counts: list[int]) -> None:
    block = NumberBlock("NUM-03")
    taken = [n for count in counts for n in block.take(count)]
    assert len(taken) == len(set(taken)) == sum(counts) == block.used
    assert taken == [f"+813{50_000_000 + i:08d}" for i in range(sum(counts))]


def test_a_block_replayed_from_its_events_continues_where_it_stopped() -> None:
    block = NumberBlock("NUM-045")
    first = block.take(3)
    replayed: NumberBlock | None = None
    for event in block.collect_events():
        replayed = event.mutate(replayed)
    assert replayed is not None and replayed.used == 3
    then = replayed.take(2)
    assert then == ["+81455000003", "+81455000004"]
    assert set(first).isdisjoint(then)


def test_past_the_end_of_its_block_a_number_is_refused_and_nothing_is_taken() -> None:
    block = NumberBlock("NUM-INTL-US")
    assert len(block.take(99)) == 99
    block.collect_events()
    with pytest.raises(NumbersExhaustedError):
        block.take(2)
    assert (block.used, block.collect_events()) == (99, [])
    assert block.take(1) == ["+12125550199"]
    with pytest.raises(NumbersExhaustedError):
        block.take(1)
    assert block.used == 100


def test_each_sku_has_its_own_block() -> None:
    ids = {NumberBlock.create_id(sku) for sku in BLOCKS}
    assert len(ids) == len(BLOCKS)
    assert NumberBlock("NUM-03").id == NumberBlock.create_id("NUM-03")
