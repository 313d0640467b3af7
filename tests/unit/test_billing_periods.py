"""Billing periods: anniversary and calendar alignment, month ends, leap years, local dates across DST."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.clock import local_date, start_of_local_day
from chalicelib.periods import (
    Alignment,
    Period,
    PeriodRule,
    PeriodUnit,
    add_months,
    billing_day_for,
    next_period,
    nominal_period,
    nth_period,
    on_billing_day,
    period_containing,
    period_index,
    period_start,
    periods_between,
)

MONTH, YEAR, WEEK, DAY = PeriodUnit.MONTH, PeriodUnit.YEAR, PeriodUnit.WEEK, PeriodUnit.DAY
CALENDAR = Alignment.CALENDAR


def monthly(anchor: date, count: int = 1) -> PeriodRule:
    return PeriodRule(MONTH, count, anchor)


def starts(rule: PeriodRule, how_many: int) -> list[date]:
    return [nth_period(rule, n).start for n in range(how_many)]


def test_period_is_half_open() -> None:
    # April: 1 April is in, 1 May is the next period's first day.
    april = Period(date(2026, 4, 1), date(2026, 5, 1))
    assert april.days == 30
    assert april.last_day == date(2026, 4, 30)
    assert april.contains(date(2026, 4, 1))
    assert april.contains(date(2026, 4, 30))
    assert not april.contains(date(2026, 5, 1))
    assert not april.contains(date(2026, 3, 31))


@pytest.mark.parametrize("end", [date(2026, 4, 1), date(2026, 3, 31)])
def test_a_period_is_at_least_one_day(end: date) -> None:
    with pytest.raises(ValueError, match="ends after it starts"):
        Period(date(2026, 4, 1), end)


def test_anchor_on_the_31st_returns_to_the_31st() -> None:
    assert starts(monthly(date(2025, 1, 31)), 13) == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),  # back to the 31st: the anchor day is remembered, not the previous boundary
        date(2025, 4, 30),
        date(2025, 5, 31),
        date(2025, 6, 30),
        date(2025, 7, 31),
        date(2025, 8, 31),
        date(2025, 9, 30),
        date(2025, 10, 31),
        date(2025, 11, 30),
        date(2025, 12, 31),
        date(2026, 1, 31),
    ]


def test_anchor_on_the_31st_bills_on_29_february_in_a_leap_year() -> None:
    assert starts(monthly(date(2028, 1, 31)), 4) == [
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    ]


def test_anchor_on_the_30th_moves_only_in_february() -> None:
    assert starts(monthly(date(2026, 1, 30)), 4) == [
        date(2026, 1, 30),
        date(2026, 2, 28),
        date(2026, 3, 30),
        date(2026, 4, 30),
    ]


def test_month_end_period_lengths() -> None:
    rule = monthly(date(2025, 1, 31))
    # [31 Jan, 28 Feb) is 28 days, [28 Feb, 31 Mar) 31 days, [31 Mar, 30 Apr) 30 days.
    assert [nth_period(rule, n).days for n in range(3)] == [28, 31, 30]


def test_quarterly_anniversary_on_the_31st() -> None:
    assert starts(monthly(date(2025, 1, 31), count=3), 5) == [
        date(2025, 1, 31),
        date(2025, 4, 30),
        date(2025, 7, 31),
        date(2025, 10, 31),
        date(2026, 1, 31),
    ]


def test_yearly_anchor_on_29_february() -> None:
    rule = PeriodRule(YEAR, 1, date(2024, 2, 29))
    assert starts(rule, 6) == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),  # a leap year again: back to the 29th
        date(2029, 2, 28),
    ]
    # [2027-02-28, 2028-02-29) holds 29 Feb 2028's eve: 365 + 1 days.
    assert [nth_period(rule, n).days for n in range(5)] == [365, 365, 365, 366, 365]


def test_a_rule_anchored_on_a_clamped_month_end_keeps_its_billing_day() -> None:
    # A phase starting on 30 April of a subscription billed on the 31st: 31 May, not 30 May.
    rule = PeriodRule(MONTH, 1, date(2027, 4, 30), billing_day=31)
    assert starts(rule, 5) == [
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
        date(2027, 7, 31),
        date(2027, 8, 31),
    ]
    assert period_containing(rule, date(2027, 5, 30)) == Period(date(2027, 4, 30), date(2027, 5, 31))


def test_a_yearly_rule_from_28_february_on_billing_day_29_returns_to_leap_days() -> None:
    rule = PeriodRule(YEAR, 1, date(2029, 2, 28), billing_day=29)
    assert starts(rule, 4) == [date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28), date(2032, 2, 29)]


def test_the_billing_day_is_ignored_by_calendar_alignment() -> None:
    rule = PeriodRule(MONTH, 1, date(2027, 4, 30), CALENDAR, billing_day=31)
    assert starts(rule, 3) == [date(2027, 4, 30), date(2027, 5, 1), date(2027, 6, 1)]


@pytest.mark.parametrize(
    ("day", "billing_day", "on_it"),
    [
        (date(2027, 4, 30), 31, True),  # April has no 31st
        (date(2027, 5, 30), 31, False),  # May has
        (date(2027, 2, 28), 29, True),
        (date(2028, 2, 28), 29, False),  # a leap year has the 29th
        (date(2028, 2, 29), 30, True),
        (date(2027, 3, 15), 15, True),
        (date(2027, 3, 15), 16, False),
    ],
)
def test_on_billing_day(day: date, billing_day: int, on_it: bool) -> None:
    assert on_billing_day(day, billing_day) is on_it


@pytest.mark.parametrize(
    ("anchor", "previous", "billing_day"),
    [
        (date(2027, 1, 31), None, 31),  # the first phase bills on its own day
        (date(2027, 4, 30), 31, 31),  # a campaign ending on 30 April: still the 31st
        (date(2027, 2, 28), 30, 30),
        (date(2029, 2, 28), 29, 29),  # yearly from 29 February
        (date(2027, 3, 11), 31, 11),  # a change made mid-period starts a new anniversary
        (date(2027, 5, 30), 31, 30),
    ],
)
def test_billing_day_for_a_phase(anchor: date, previous: int | None, billing_day: int) -> None:
    assert billing_day_for(anchor, previous) == billing_day


def test_two_yearly_periods() -> None:
    assert starts(PeriodRule(YEAR, 2, date(2024, 2, 29)), 3) == [
        date(2024, 2, 29),
        date(2026, 2, 28),
        date(2028, 2, 29),
    ]


def test_weekly_and_fortnightly_periods() -> None:
    wednesday = date(2026, 11, 25)
    assert nth_period(PeriodRule(WEEK, 1, wednesday), 5) == Period(date(2026, 12, 30), date(2027, 1, 6))
    assert nth_period(PeriodRule(WEEK, 2, wednesday), 1) == Period(date(2026, 12, 9), date(2026, 12, 23))


def test_thirty_day_periods_ignore_months() -> None:
    rule = PeriodRule(DAY, 30, date(2026, 1, 1))
    assert nth_period(rule, 1) == Period(date(2026, 1, 31), date(2026, 3, 2))
    assert period_containing(rule, date(2026, 3, 2)) == Period(date(2026, 3, 2), date(2026, 4, 1))


@pytest.mark.parametrize(
    ("day", "period"),
    [
        (date(2025, 1, 31), (date(2025, 1, 31), date(2025, 2, 28))),
        (date(2025, 2, 27), (date(2025, 1, 31), date(2025, 2, 28))),
        (date(2025, 2, 28), (date(2025, 2, 28), date(2025, 3, 31))),
        (date(2025, 3, 1), (date(2025, 2, 28), date(2025, 3, 31))),
        (date(2025, 3, 30), (date(2025, 2, 28), date(2025, 3, 31))),  # same month, before the boundary
        (date(2025, 3, 31), (date(2025, 3, 31), date(2025, 4, 30))),
        (date(2025, 4, 30), (date(2025, 4, 30), date(2025, 5, 31))),
    ],
)
def test_period_containing_around_clamped_boundaries(day: date, period: tuple[date, date]) -> None:
    assert period_containing(monthly(date(2025, 1, 31)), day) == Period(*period)


def test_period_index_counts_from_zero() -> None:
    rule = monthly(date(2025, 1, 31))
    assert period_index(rule, date(2025, 1, 31)) == 0
    assert period_index(rule, date(2025, 3, 30)) == 1
    assert period_index(rule, date(2026, 1, 31)) == 12


def test_a_far_period_is_computed_directly() -> None:
    # Period 12 000 of a monthly rule is a thousand years on; no loop walks there.
    rule = monthly(date(2025, 1, 31))
    assert nth_period(rule, 12_000) == Period(date(3025, 1, 31), date(3025, 2, 28))
    assert period_index(rule, date(3025, 2, 27)) == 12_000


def test_no_period_before_the_anchor() -> None:
    rule = monthly(date(2025, 1, 31))
    with pytest.raises(ValueError, match="before the first period"):
        period_containing(rule, date(2025, 1, 30))
    with pytest.raises(ValueError, match="start at 0"):
        nth_period(rule, -1)


def test_next_period_remembers_the_anchor_day() -> None:
    rule = monthly(date(2025, 1, 31))
    february = Period(date(2025, 2, 28), date(2025, 3, 31))
    # A rule-less "one month after 28 Feb" would say 28 Mar; the anchor says 31 Mar.
    assert next_period(rule, Period(date(2025, 1, 31), date(2025, 2, 28))) == february
    assert next_period(rule, february) == Period(date(2025, 3, 31), date(2025, 4, 30))


def test_calendar_monthly_with_a_partial_first_period() -> None:
    rule = PeriodRule(MONTH, 1, date(2026, 3, 15), CALENDAR)
    assert [nth_period(rule, n) for n in range(3)] == [
        Period(date(2026, 3, 15), date(2026, 4, 1)),  # 17 days of March
        Period(date(2026, 4, 1), date(2026, 5, 1)),
        Period(date(2026, 5, 1), date(2026, 6, 1)),
    ]
    assert nth_period(rule, 0).days == 17
    assert nominal_period(rule, 0) == Period(date(2026, 3, 1), date(2026, 4, 1))
    assert nominal_period(rule, 1) == nth_period(rule, 1)


def test_calendar_monthly_anchored_on_the_first_has_no_partial_period() -> None:
    rule = PeriodRule(MONTH, 1, date(2026, 3, 1), CALENDAR)
    assert nth_period(rule, 0) == Period(date(2026, 3, 1), date(2026, 4, 1))
    assert nominal_period(rule, 0) == nth_period(rule, 0)


def test_calendar_quarters() -> None:
    rule = PeriodRule(MONTH, 3, date(2026, 5, 20), CALENDAR)
    assert [nth_period(rule, n) for n in range(3)] == [
        Period(date(2026, 5, 20), date(2026, 7, 1)),
        Period(date(2026, 7, 1), date(2026, 10, 1)),
        Period(date(2026, 10, 1), date(2027, 1, 1)),
    ]
    assert nominal_period(rule, 0) == Period(date(2026, 4, 1), date(2026, 7, 1))
    assert period_containing(rule, date(2027, 2, 14)) == Period(date(2027, 1, 1), date(2027, 4, 1))


def test_calendar_half_years_line_up_with_january_and_july() -> None:
    rule = PeriodRule(MONTH, 6, date(2026, 11, 26), CALENDAR)
    assert nth_period(rule, 0) == Period(date(2026, 11, 26), date(2027, 1, 1))
    assert nth_period(rule, 1) == Period(date(2027, 1, 1), date(2027, 7, 1))


def test_calendar_years() -> None:
    rule = PeriodRule(YEAR, 1, date(2026, 11, 26), CALENDAR)
    assert nth_period(rule, 0) == Period(date(2026, 11, 26), date(2027, 1, 1))
    assert nth_period(rule, 1) == Period(date(2027, 1, 1), date(2028, 1, 1))
    assert nth_period(rule, 2).days == 366  # 2028 is a leap year


def test_calendar_weeks_start_on_monday() -> None:
    thursday = date(2026, 11, 26)
    rule = PeriodRule(WEEK, 1, thursday, CALENDAR)
    assert nth_period(rule, 0) == Period(thursday, date(2026, 11, 30))
    assert nth_period(rule, 1) == Period(date(2026, 11, 30), date(2026, 12, 7))
    assert nominal_period(rule, 0) == Period(date(2026, 11, 23), date(2026, 11, 30))


@pytest.mark.parametrize(
    ("unit", "count", "alignment", "message"),
    [
        (MONTH, 0, Alignment.ANNIVERSARY, "at least one"),
        (DAY, -1, Alignment.ANNIVERSARY, "at least one"),
        (MONTH, 5, CALENDAR, "do not divide a year"),
        (MONTH, 24, CALENDAR, "do not divide a year"),
    ],
)
def test_invalid_rules(unit: PeriodUnit, count: int, alignment: Alignment, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PeriodRule(unit, count, date(2026, 1, 1), alignment)


@pytest.mark.parametrize(
    ("anchor", "billing_day", "message"),
    [
        (date(2027, 1, 31), 0, "from 1 to 31"),
        (date(2027, 1, 31), 32, "from 1 to 31"),
        (date(2027, 5, 30), 31, "not on billing day 31"),  # a period would start before its billing day
        (date(2027, 4, 30), 29, "not on billing day 29"),
    ],
)
def test_invalid_billing_days(anchor: date, billing_day: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PeriodRule(MONTH, 1, anchor, billing_day=billing_day)


def test_periods_between_returns_whole_overlapping_periods() -> None:
    rule = monthly(date(2025, 1, 31))
    assert periods_between(rule, date(2025, 2, 15), date(2025, 5, 1)) == [
        Period(date(2025, 1, 31), date(2025, 2, 28)),
        Period(date(2025, 2, 28), date(2025, 3, 31)),
        Period(date(2025, 3, 31), date(2025, 4, 30)),
        Period(date(2025, 4, 30), date(2025, 5, 31)),
    ]


def test_periods_between_is_half_open_and_starts_at_the_anchor() -> None:
    rule = monthly(date(2025, 1, 31))
    # The range ends on 28 Feb: the period starting that day is not in it.
    assert periods_between(rule, date(2024, 1, 1), date(2025, 2, 28)) == [
        Period(date(2025, 1, 31), date(2025, 2, 28)),
    ]
    assert periods_between(rule, date(2024, 1, 1), date(2025, 1, 31)) == []
    assert periods_between(rule, date(2025, 6, 1), date(2025, 6, 1)) == []


def test_add_months_clamps_to_the_wanted_day() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2025, 2, 28), 1) == date(2025, 3, 28)
    assert add_months(date(2025, 2, 28), 1, day_of_month=31) == date(2025, 3, 31)
    assert add_months(date(2025, 3, 31), -1) == date(2025, 2, 28)
    assert add_months(date(2025, 11, 30), 14) == date(2027, 1, 30)


# Europe/Oslo: summer time starts 29 Mar 2026 at 01:00 UTC and ends 25 Oct 2026 at 01:00 UTC.
@pytest.mark.parametrize(
    ("instant", "local_day"),
    [
        (datetime(2026, 3, 28, 22, 59, tzinfo=UTC), date(2026, 3, 28)),  # 23:59 CET
        (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), date(2026, 3, 29)),  # 00:00 CET; UTC still says 28th
        (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), date(2026, 3, 29)),  # 23:59 CEST
        (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), date(2026, 3, 30)),  # 00:00 CEST
        (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), date(2026, 10, 25)),  # 00:00 CEST
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), date(2026, 10, 25)),  # 02:30 CEST
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), date(2026, 10, 25)),  # 02:30 CET, the repeated hour
        (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), date(2026, 10, 25)),  # 23:59 CET
        (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), date(2026, 10, 26)),  # 00:00 CET
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2027, 1, 1)),  # new year in Oslo first
        (datetime(2026, 7, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), date(2026, 7, 1)),
    ],
)
def test_business_date_in_oslo(instant: datetime, local_day: date) -> None:
    assert local_date(instant) == local_day


def test_business_date_in_another_zone() -> None:
    stockholm = ZoneInfo("Europe/Stockholm")
    new_york = ZoneInfo("America/New_York")
    assert local_date(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), stockholm) == date(2026, 3, 29)
    assert local_date(datetime(2026, 3, 29, 4, 0, tzinfo=UTC), new_york) == date(2026, 3, 29)
    assert local_date(datetime(2026, 3, 29, 3, 59, tzinfo=UTC), new_york) == date(2026, 3, 28)


def test_business_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        local_date(datetime(2026, 3, 29, 12, 0))


def test_days_are_23_or_25_hours_long_around_dst_but_stay_one_date() -> None:
    spring = start_of_local_day(date(2026, 3, 30)) - start_of_local_day(date(2026, 3, 29))
    autumn = start_of_local_day(date(2026, 10, 26)) - start_of_local_day(date(2026, 10, 25))
    assert spring == timedelta(hours=23)
    assert autumn == timedelta(hours=25)
    assert start_of_local_day(date(2026, 3, 29)) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)


# --- properties -------------------------------------------------------------------------------------

anchors = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


@st.composite
def billing_days(draw: st.DrawFn, anchor: date) -> int | None:
    """None, or a billing day the anchor is on: its own day, or any later one if it is a month's end."""
    if not draw(st.booleans()):
        return None
    if anchor.day < calendar.monthrange(anchor.year, anchor.month)[1]:
        return anchor.day
    return draw(st.integers(min_value=anchor.day, max_value=31))


@st.composite
def rules(draw: st.DrawFn, alignments: tuple[Alignment, ...] = tuple(Alignment)) -> PeriodRule:
    alignment = draw(st.sampled_from(alignments))
    unit = draw(st.sampled_from(PeriodUnit))
    if alignment is CALENDAR and unit is MONTH:
        count = draw(st.sampled_from([1, 2, 3, 4, 6, 12]))
    else:
        count = draw(st.integers(min_value=1, max_value=3 if unit is YEAR else 13))
    anchor = draw(anchors)
    return PeriodRule(unit, count, anchor, alignment, draw(billing_days(anchor)))


@given(rule=rules(), index=st.integers(min_value=0, max_value=2_000))
def test_periods_are_contiguous_and_non_empty(rule: PeriodRule, index: int) -> None:
    period = nth_period(rule, index)
    following = nth_period(rule, index + 1)
    assert period.end == following.start
    assert period.days >= 1
    assert period_containing(rule, period.start) == period
    assert period_containing(rule, period.last_day) == period
    assert next_period(rule, period) == following


@given(rule=rules(), offset=st.integers(min_value=0, max_value=3_000))
def test_period_containing_agrees_with_counting_periods_one_by_one(rule: PeriodRule, offset: int) -> None:
    day = rule.anchor + timedelta(days=offset)
    index = 0
    while not nth_period(rule, index).contains(day):
        index += 1
    assert period_index(rule, day) == index
    assert period_containing(rule, day) == nth_period(rule, index)


@given(anchor=anchors, count=st.integers(min_value=1, max_value=12), index=st.integers(0, 3_000))
def test_monthly_anniversaries_never_drift(anchor: date, count: int, index: int) -> None:
    start = nth_period(monthly(anchor, count), index).start
    months = anchor.year * 12 + anchor.month - 1 + index * count
    year, month_index = divmod(months, 12)
    assert (start.year, start.month) == (year, month_index + 1)
    assert start.day == min(anchor.day, calendar.monthrange(start.year, start.month)[1])


@given(
    start=anchors,
    unit=st.sampled_from([MONTH, YEAR]),
    counts=st.lists(st.integers(min_value=1, max_value=13), min_size=1, max_size=6),
    lengths=st.lists(st.integers(min_value=1, max_value=30), min_size=6, max_size=6),
)
def test_phases_handing_over_at_period_ends_keep_the_first_anchor_day(
    start: date, unit: PeriodUnit, counts: list[int], lengths: list[int]
) -> None:
    # Phases of any lengths in months or years, each starting where the previous one ends (a campaign,
    # a binding, a change at period end): every period starts on min(first anchor day, last day of month).
    anchor, billing_day = start, None
    for count, length in zip(counts, lengths, strict=False):
        billing_day = billing_day_for(anchor, billing_day)
        rule = PeriodRule(unit, count, anchor, billing_day=billing_day)
        for index in range(length + 1):
            day = period_start(rule, index)
            assert day.day == min(start.day, calendar.monthrange(day.year, day.month)[1])
        anchor = period_start(rule, length)


@given(anchor=anchors, index=st.integers(0, 500))
def test_monthly_and_yearly_period_lengths(anchor: date, index: int) -> None:
    assert 28 <= nth_period(monthly(anchor), index).days <= 31
    assert 365 <= nth_period(PeriodRule(YEAR, 1, anchor), index).days <= 366


@given(rule=rules(alignments=(CALENDAR,)), index=st.integers(min_value=1, max_value=500))
def test_calendar_boundaries_fall_on_calendar_starts(rule: PeriodRule, index: int) -> None:
    start = nth_period(rule, index).start
    if rule.unit is MONTH:
        assert start.day == 1
        assert (start.month - 1) % rule.count == 0
    elif rule.unit is YEAR:
        assert (start.month, start.day) == (1, 1)
    elif rule.unit is WEEK:
        assert start.weekday() == 0


@given(rule=rules(), first=st.integers(0, 2_000), length=st.integers(0, 800))
def test_periods_between_cover_the_range_without_gaps(rule: PeriodRule, first: int, length: int) -> None:
    start = rule.anchor + timedelta(days=first)
    end = start + timedelta(days=length)
    periods = periods_between(rule, start, end)
    if length == 0:
        assert periods == []
        return
    assert periods[0].contains(start)
    assert periods[-1].contains(end - timedelta(days=1))
    assert all(a.end == b.start for a, b in pairwise(periods))


@given(day=st.dates(min_value=date(1970, 1, 2), max_value=date(2100, 12, 30)))
def test_a_local_day_starts_on_that_day(day: date) -> None:
    start = start_of_local_day(day)
    assert local_date(start) == day
    assert local_date(start - timedelta(microseconds=1)) == day - timedelta(days=1)
