"""日割, the invoice rule's tax and the mixing rule, as SPEC §5.2 states them."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pbx_cart.domain.pricing import (
    Charge,
    days_in_month,
    invoice_totals,
    mixes_billing,
    prorate,
    tax_on,
)

# -- 日割 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monthly", "start", "expected"),
    [
        (700, date(2024, 9, 8), 536),  # the manual's example: 700 × 23 / 30 = 536.66…
        (3000, date(2024, 2, 15), 1551),  # leap February: 3000 × 15 / 29 = 1551.72…
    ],
)
def test_the_manuals_examples(monthly: int, start: date, expected: int) -> None:
    assert prorate(monthly, start) == expected


@pytest.mark.parametrize(
    ("month", "days"),
    [
        (date(2023, 2, 1), 28),
        (date(2024, 2, 1), 29),
        (date(2024, 4, 1), 30),
        (date(2024, 1, 1), 31),
    ],
)
def test_every_month_length_first_and_last_day(month: date, days: int) -> None:
    assert days_in_month(month) == days
    first, last = month, month.replace(day=days)
    assert prorate(3000, first) == 3000  # a whole month from the 1st
    assert prorate(3000, last) == 3000 // days  # one day, rounded down
    # each day in between: the formula, in integers
    for day in range(1, days + 1):
        start = month.replace(day=day)
        assert prorate(1000, start) == 1000 * (days - day + 1) // days


def test_a_free_item_prorates_to_zero_and_a_negative_fee_is_refused() -> None:
    assert prorate(0, date(2024, 9, 8)) == 0
    with pytest.raises(ValueError, match="negative"):
        prorate(-1, date(2024, 9, 8))


@given(
    st.integers(min_value=0, max_value=10_000_000),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
)
def test_proration_never_exceeds_the_fee_and_shrinks_day_by_day(monthly: int, start: date) -> None:
    amount = prorate(monthly, start)
    assert 0 <= amount <= monthly
    if start.day < days_in_month(start):
        assert prorate(monthly, start.replace(day=start.day + 1)) <= amount


# -- tax -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtotal", "tax"),
    [(9_805, 981), (9_804, 980), (9_815, 982), (9_825, 983), (5, 1), (4, 0), (0, 0)],
)
def test_tax_is_rounded_half_up_at_the_yen(subtotal: int, tax: int) -> None:
    """.5 goes up on both sides of an even yen (round() would give 980 for 9,805)."""
    assert tax_on(subtotal, 10) == tax


def test_tax_is_once_per_rate_on_the_subtotal_not_summed_per_line() -> None:
    # three lines of ¥1,005: per-line rounding gives 101 × 3 = 303; the invoice rule 302
    lines = [Charge(1_005, "standard_10")] * 3
    totals = invoice_totals(lines)
    assert sum(tax_on(c.amount, 10) for c in lines) == 303
    assert (totals.subtotal, totals.tax, totals.total) == (3_015, 302, 3_317)
    [by_rate] = totals.taxes
    assert (by_rate.tax_category, by_rate.rate_percent, by_rate.taxable_amount) == (
        "standard_10",
        10,
        3_015,
    )


def test_an_empty_invoice_is_zero_and_an_unknown_category_is_refused() -> None:
    totals = invoice_totals([])
    assert (totals.subtotal, totals.taxes, totals.tax, totals.total) == (0, (), 0, 0)
    with pytest.raises(ValueError, match="unknown tax category"):
        invoice_totals([Charge(100, "reduced_8")])


@given(st.lists(st.integers(min_value=0, max_value=1_000_000), max_size=30))
def test_totals_add_up_in_integers(amounts: list[int]) -> None:
    totals = invoice_totals(Charge(a, "standard_10") for a in amounts)
    assert totals.subtotal == sum(amounts)
    assert totals.total == totals.subtotal + totals.tax
    assert all(isinstance(v, int) for v in (totals.subtotal, totals.tax, totals.total))
    # within half a yen of the exact tax
    assert abs(totals.tax * 10 - sum(amounts)) <= 5


# -- the mixing rule -------------------------------------------------------------------------

KINDS = ("one_time", "shipping", "monthly", "cancellation")


@pytest.mark.parametrize(
    "kinds",
    [set(c) for n in range(len(KINDS) + 1) for c in itertools.combinations(KINDS, n)],
    ids=lambda kinds: "+".join(sorted(kinds)) or "empty",
)
def test_devices_are_never_settled_with_monthly_or_cancellation_items(kinds: set[str]) -> None:
    devices = bool(kinds & {"one_time", "shipping"})
    services = bool(kinds & {"monthly", "cancellation"})
    assert mixes_billing(kinds) is (devices and services)


def test_the_mixing_rule_in_words() -> None:
    assert not mixes_billing(["one_time", "shipping"])  # devices and their shipping
    assert not mixes_billing(["monthly", "cancellation"])  # services together
    assert mixes_billing(["one_time", "shipping", "monthly"])
    assert mixes_billing(["one_time", "cancellation"])
