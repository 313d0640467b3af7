"""Money: integer minor units, one rounding rule, allocations and VAT that add up to the øre."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.money import (
    Currency,
    CurrencyMismatchError,
    Money,
    VatRate,
    round_half_away,
    sum_money,
    vat_from_gross,
    vat_from_net,
)

NOK = Currency.NOK


def test_rejects_floats_and_bools() -> None:
    with pytest.raises(TypeError):
        Money(12.5, NOK)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, NOK)


def test_currencies_do_not_mix() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money(100, NOK) + Money(100, Currency.SEK)


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(5, 2), 3),
        (Fraction(-5, 2), -3),
        (Fraction(7, 3), 2),
        (Fraction(-7, 3), -2),
        (Fraction(0), 0),
    ],
)
def test_rounds_half_away_from_zero(value: Fraction, rounded: int) -> None:
    assert round_half_away(value) == rounded


def test_proration_examples_from_the_billing_issue() -> None:
    # A paid 90.00 EUR month of 30 days stopped on its 14th day leaves 16/30 of it as credit.
    assert Money(9000, Currency.EUR).prorate(16, 30) == Money(4800, Currency.EUR)
    # An unpaid 84.00 EUR invoice for 28 days stopped on day 9 leaves 9/28 owed.
    assert Money(8400, Currency.EUR).prorate(9, 28) == Money(2700, Currency.EUR)


def test_vat_on_net_and_inside_gross() -> None:
    standard = VatRate(2500)
    assert vat_from_net(Money(10000, NOK), standard).vat == Money(2500, NOK)
    split = vat_from_gross(Money(12900, NOK), standard)
    assert (split.net, split.vat) == (Money(10320, NOK), Money(2580, NOK))
    assert vat_from_gross(Money(9900, NOK), VatRate(0)).vat == Money(0, NOK)
    assert VatRate(1250).percent == "12.5"
    assert VatRate(2500).percent == "25"


@given(st.integers(-(10**12), 10**12), st.lists(st.integers(0, 1000), min_size=1, max_size=8))
def test_allocation_adds_up_exactly(amount: int, weights: list[int]) -> None:
    if sum(weights) == 0:
        weights = [*weights[:-1], 1]
    parts = Money(amount, NOK).allocate(weights)
    assert sum_money(parts, NOK) == Money(amount, NOK)
    for part, weight in zip(parts, weights, strict=True):
        exact = Fraction(amount * weight, sum(weights))
        assert abs(part.amount - exact) < 1


@given(st.integers(-(10**10), 10**10), st.sampled_from([0, 600, 1200, 1500, 2500]))
def test_gross_is_always_net_plus_vat(amount: int, basis_points: int) -> None:
    rate = VatRate(basis_points)
    for split in (vat_from_net(Money(amount, NOK), rate), vat_from_gross(Money(amount, NOK), rate)):
        assert split.gross == split.net + split.vat


def test_plain_format() -> None:
    assert Money(-123456, NOK).format_plain() == "-1234.56 NOK"
