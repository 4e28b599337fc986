"""Prices as the cart shows and charges them (SPEC §5.2): integer yen, never float.

- 日割 (proration) of a monthly fee for the contract month, the start day included:
  ``floor(monthly × (days_in_month − start_day + 1) / days_in_month)``.
- Tax once per rate on that rate's subtotal (the インボイス rule), rounded half-up at the
  yen (四捨五入) with ``Decimal.quantize(…, ROUND_HALF_UP)``, never ``round()``, which
  rounds half to even, and never summed from per-line rounded taxes.
- The mixing rule: devices (and their shipping) are never settled together with monthly
  or cancellation items.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

BillingKind = Literal["one_time", "monthly", "shipping", "cancellation"]
TaxCategory = Literal["standard_10"]

#: consumption tax rates in percent, by category (devices, shipping, monthly fees: 10%)
TAX_RATES: dict[str, int] = {"standard_10": 10}

#: kinds settled with devices (the shipping line exists only while devices are in the cart)
DEVICE_KINDS: frozenset[str] = frozenset({"one_time", "shipping"})
#: kinds never settled together with devices
SERVICE_KINDS: frozenset[str] = frozenset({"monthly", "cancellation"})

#: 区分 as the cart's lines show it
KIND_NAMES: dict[str, str] = {
    "one_time": "機器",
    "monthly": "月額",
    "shipping": "送料",
    "cancellation": "解約",
}


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def prorate(monthly: int, start: date) -> int:
    """日割 of ``monthly`` yen for the month of ``start``, from ``start`` (included) to the
    month's end, rounded down: ¥700 from 9/8 → ¥536; ¥3,000 from 2024-02-15 → ¥1,551."""
    if monthly < 0:
        raise ValueError("a monthly fee is never negative")
    days = days_in_month(start)
    return monthly * (days - start.day + 1) // days


@dataclass(frozen=True)
class Charge:
    """What one line charges now, tax excluded, with its tax category."""

    amount: int
    tax_category: str


@dataclass(frozen=True)
class TaxByRate:
    tax_category: str
    rate_percent: int
    taxable_amount: int
    tax: int


@dataclass(frozen=True)
class Totals:
    subtotal: int
    taxes: tuple[TaxByRate, ...]
    tax: int
    total: int


def tax_on(taxable_amount: int, rate_percent: int) -> int:
    """The tax on a rate's subtotal, rounded half-up at the yen (9,805 at 10% → 981)."""
    exact = Decimal(taxable_amount) * Decimal(rate_percent) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def invoice_totals(charges: Iterable[Charge]) -> Totals:
    """Subtotal, tax once per rate on the rate's subtotal, and the total (インボイス rule)."""
    by_category: dict[str, int] = {}
    for charge in charges:
        if charge.tax_category not in TAX_RATES:
            raise ValueError(f"unknown tax category {charge.tax_category!r}")
        by_category[charge.tax_category] = by_category.get(charge.tax_category, 0) + charge.amount
    taxes = tuple(
        TaxByRate(category, TAX_RATES[category], amount, tax_on(amount, TAX_RATES[category]))
        for category, amount in sorted(by_category.items())
    )
    subtotal = sum(by_category.values())
    tax = sum(t.tax for t in taxes)
    return Totals(subtotal=subtotal, taxes=taxes, tax=tax, total=subtotal + tax)


def mixes_billing(kinds: Iterable[str]) -> bool:
    """True when devices (or their shipping) would be settled with monthly or
    cancellation items: such a cart is checked out in two goes (SPEC §5.2)."""
    present = set(kinds)
    return bool(present & DEVICE_KINDS) and bool(present & SERVICE_KINDS)
