"""Whole-day proration: a change on local day D takes effect at the end of D; a day started is used."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.clock import local_date
from chalicelib.money import Currency, Money
from chalicelib.periods import (
    Alignment,
    DaySplit,
    Period,
    PeriodRule,
    PeriodUnit,
    change_effective_date,
    nominal_period,
    nth_period,
    prorate_by_days,
    split_at_change,
    unused_days,
    used_days,
)

APRIL = Period(date(2026, 4, 1), date(2026, 5, 1))  # 30 days
FEBRUARY = Period(date(2026, 2, 1), date(2026, 3, 1))  # 28 days


def nok(ore: int) -> Money:
    return Money(ore, Currency.NOK)


def test_stop_on_the_14th_day_of_a_30_day_period() -> None:
    # Stopped on 14 April, the 14th day: 1..14 April used, 15..30 April (16 days) given back.
    # Credit: 16/30 × 9000 øre = 4800 øre; the customer keeps paying for 14/30: 4200 øre.
    stop_day = date(2026, 4, 14)
    assert used_days(APRIL, stop_day) == 14
    assert unused_days(APRIL, stop_day) == 16
    assert prorate_by_days(nok(9000), APRIL, 16) == nok(4800)
    assert split_at_change(nok(9000), APRIL, stop_day) == DaySplit(
        used_days=14, unused_days=16, used=nok(4200), unused=nok(4800)
    )


def test_nine_days_of_february_back() -> None:
    # Stopped on 19 February 2026: 19 of 28 days used, 9 given back: 9/28 × 8400 øre = 2700 øre.
    split = split_at_change(nok(8400), FEBRUARY, date(2026, 2, 19))
    assert (split.used_days, split.unused_days) == (19, 9)
    assert split.unused == nok(2700)
    assert split.used == nok(5700)


def test_the_change_takes_effect_the_next_day() -> None:
    assert change_effective_date(date(2026, 4, 14)) == date(2026, 4, 15)
    assert change_effective_date(date(2026, 4, 30)) == APRIL.end
    assert change_effective_date(date(2028, 2, 28)) == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("change_day", "used", "unused"),
    [
        (date(2026, 4, 1), 1, 29),  # a day started is used, even the first
        (date(2026, 4, 30), 30, 0),  # stopped on the last day: nothing to give back
        (date(2026, 3, 31), 0, 30),  # a change the day before takes effect before the period starts
        (date(2026, 1, 1), 0, 30),
        (date(2026, 5, 1), 30, 0),  # after the period: all of it used
        (date(2027, 1, 1), 30, 0),
    ],
)
def test_used_days_at_and_beyond_the_edges(change_day: date, used: int, unused: int) -> None:
    assert used_days(APRIL, change_day) == used
    assert unused_days(APRIL, change_day) == unused


def test_the_local_date_of_the_change_counts_not_the_utc_date() -> None:
    # 22:30 UTC on 14 April is 00:30 on 15 April in Oslo (CEST): day 15 has started and is used.
    stop = datetime(2026, 4, 14, 22, 30, tzinfo=UTC)
    assert used_days(APRIL, local_date(stop)) == 15
    assert unused_days(APRIL, local_date(stop)) == 15


def test_partial_first_calendar_period_is_priced_by_its_share_of_the_month() -> None:
    # Monthly, calendar-aligned, started 15 March: the first period is 15..31 March, 17 of 31 days.
    # 9300 øre × 17/31 = 5100 øre.
    rule = PeriodRule(PeriodUnit.MONTH, 1, date(2026, 3, 15), Alignment.CALENDAR)
    first = nth_period(rule, 0)
    full = nominal_period(rule, 0)
    assert nok(9300).prorate(first.days, full.days) == nok(5100)


def test_halves_round_away_from_zero_and_the_split_still_adds_up() -> None:
    two_days = Period(date(2026, 4, 1), date(2026, 4, 3))
    # 1 øre over 2 days, stopped on day 1: 0.5 øre back rounds to 1, leaving 0 used.
    assert split_at_change(nok(1), two_days, date(2026, 4, 1)) == DaySplit(1, 1, nok(0), nok(1))
    # A credit note's negative amount rounds the same way, mirrored.
    assert split_at_change(nok(-1), two_days, date(2026, 4, 1)) == DaySplit(1, 1, nok(0), nok(-1))


@pytest.mark.parametrize("days", [-1, 31])
def test_prorate_by_days_refuses_days_outside_the_period(days: int) -> None:
    with pytest.raises(ValueError, match="30-day period"):
        prorate_by_days(nok(9000), APRIL, days)


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    length=st.integers(min_value=1, max_value=400),
    offset=st.integers(min_value=-5, max_value=405),
    price=st.integers(min_value=-10_000_000, max_value=10_000_000),
)
def test_a_split_conserves_days_and_money(start: date, length: int, offset: int, price: int) -> None:
    period = Period(start, start + timedelta(days=length))
    change_day = start + timedelta(days=offset)
    split = split_at_change(nok(price), period, change_day)
    assert split.used_days + split.unused_days == period.days
    assert split.used + split.unused == nok(price)
    assert 0 <= split.unused_days <= period.days
    # The unused days are exactly those from the effective date to the period's end.
    effective = min(max(change_effective_date(change_day), period.start), period.end)
    assert split.unused_days == (period.end - effective).days
    # The credit never exceeds the price and shrinks as the change comes later.
    assert abs(split.unused.amount) <= abs(price)
    later = split_at_change(nok(price), period, change_day + timedelta(days=1))
    assert abs(later.unused.amount) <= abs(split.unused.amount)
