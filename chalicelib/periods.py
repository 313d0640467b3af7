"""Billing period arithmetic: half-open periods of local dates, computed directly from the rule.

A :class:`PeriodRule` (unit and count, anchor date, alignment) defines periods 0, 1, 2, ... Period ``n`` is
``[boundary(n), boundary(n + 1))``. Every function computes boundaries in constant time from the anchor,
never by stepping through earlier periods, so the n-th period of a subscription started in 1990 costs the
same as the first.

- Anniversary alignment: ``boundary(n) = anchor + n * count units``. Months and years fall on the rule's
  billing day (by default the anchor's day of month), clamped to the end of shorter months, always from
  the anchor, never from the previous boundary, so a subscription anchored on 31 January bills on 28/29
  February, 31 March, 30 April, 31 May, ... and one anchored on 29 February bills on 28 February in common
  years and on 29 February in leap years. A rule anchored on a clamped day (30 April) with billing day 31
  goes on with 31 May: see :func:`period_start` and :func:`billing_day_for`.
- Calendar alignment: boundaries fall on calendar starts (the 1st of a month, quarter or year, or a Monday
  for weeks), counted from the calendar period the anchor lies in; period 0 runs from the anchor to the
  first such boundary and is partial unless the anchor is itself on one.

Whole-day proration: a change made at any moment of local day D takes effect at the end of D; a day
started is a day used. D is the business date of the change's instant, from
:func:`chalicelib.clock.local_date` (Europe/Oslo unless the legal entity says otherwise). See
``docs/billing.md`` for the rules with worked examples.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from chalicelib.money import Money

_MONTHS_PER_YEAR = 12
_DAYS_PER_WEEK = 7
_LONGEST_MONTH = 31


class PeriodUnit(StrEnum):
    """The unit a period length is counted in."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


class Alignment(StrEnum):
    """Where period boundaries fall: on the anchor's anniversaries, or on calendar starts."""

    ANNIVERSARY = "anniversary"
    CALENDAR = "calendar"


@dataclass(frozen=True, slots=True)
class Period:
    """The local dates ``[start, end)``: ``start`` is the first day in the period, ``end`` the first after."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"a period ends after it starts: [{self.start}, {self.end})")

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days

    @property
    def last_day(self) -> date:
        """The last day in the period (``end`` minus one day)."""
        return self.end - timedelta(days=1)

    def contains(self, day: date) -> bool:
        """True if ``day`` lies in ``[start, end)``."""
        return self.start <= day < self.end


@dataclass(frozen=True, slots=True)
class PeriodRule:
    """How a subscription's periods are cut: ``count`` ``unit``s from ``anchor``, aligned as ``alignment``.

    ``anchor`` is the first day of period 0 (usually the subscription's start date). ``billing_day`` is the
    day of month every anniversary boundary of months and years returns to (None: the anchor's day); a
    phase that starts on a clamped month end (30 April of a subscription billed on the 31st) passes the
    subscription's billing day, so its periods do not shrink to the 30th. Days, weeks and calendar
    alignment ignore it. Calendar-aligned months need a ``count`` dividing 12 (1, 2, 3 for quarters, 4, 6,
    12), so that periods line up with the year.
    """

    unit: PeriodUnit
    count: int
    anchor: date
    alignment: Alignment = Alignment.ANNIVERSARY
    billing_day: int | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a period is at least one {self.unit}, got count {self.count}")
        if self.billing_day is not None:
            if not 1 <= self.billing_day <= _LONGEST_MONTH:
                raise ValueError(f"a billing day is a day of month from 1 to 31, got {self.billing_day}")
            if not on_billing_day(self.anchor, self.billing_day):
                raise ValueError(f"the anchor {self.anchor} is not on billing day {self.billing_day}")
        calendar_months = self.alignment is Alignment.CALENDAR and self.unit is PeriodUnit.MONTH
        if calendar_months and _MONTHS_PER_YEAR % self.count != 0:
            raise ValueError(f"calendar-aligned periods of {self.count} months do not divide a year")

    @property
    def origin(self) -> date:
        """The date boundaries are counted from: the anchor, or the calendar start at or before it."""
        if self.alignment is Alignment.ANNIVERSARY:
            return self.anchor
        if self.unit is PeriodUnit.WEEK:
            return self.anchor - timedelta(days=self.anchor.weekday())
        if self.unit is PeriodUnit.MONTH:
            first_month = (self.anchor.month - 1) // self.count * self.count + 1
            return date(self.anchor.year, first_month, 1)
        if self.unit is PeriodUnit.YEAR:
            return date(self.anchor.year, 1, 1)
        return self.anchor  # days have no calendar grouping

    @property
    def day_of_month(self) -> int:
        """The day of month monthly and yearly boundaries fall on (clamped to shorter months)."""
        if self.alignment is Alignment.ANNIVERSARY and self.billing_day is not None:
            return self.billing_day
        return self.origin.day


def add_months(day: date, months: int, day_of_month: int | None = None) -> date:
    """``day`` moved by ``months`` calendar months, on ``day_of_month`` (default ``day.day``) or on the
    last day of the target month if that month is shorter."""
    wanted_day = day.day if day_of_month is None else day_of_month
    year, month_index = divmod(day.year * _MONTHS_PER_YEAR + day.month - 1 + months, _MONTHS_PER_YEAR)
    month = month_index + 1
    return date(year, month, min(wanted_day, last_day_of_month(date(year, month, 1))))


def _months_in(unit: PeriodUnit) -> int:
    return _MONTHS_PER_YEAR if unit is PeriodUnit.YEAR else 1


def _days_in(unit: PeriodUnit) -> int:
    return _DAYS_PER_WEEK if unit is PeriodUnit.WEEK else 1


def _is_monthly(unit: PeriodUnit) -> bool:
    return unit in (PeriodUnit.MONTH, PeriodUnit.YEAR)


def last_day_of_month(day: date) -> int:
    """The number of days in ``day``'s month."""
    return calendar.monthrange(day.year, day.month)[1]


def on_billing_day(day: date, billing_day: int) -> bool:
    """Whether ``day`` is where a period billed on ``billing_day`` starts in its month: that day, or the
    month's last day if the month is shorter (30 April is on billing day 31)."""
    return day.day == min(billing_day, last_day_of_month(day))


def billing_day_for(anchor: date, previous: int | None) -> int:
    """The billing day of a phase anchored on ``anchor`` that follows a phase billed on ``previous``.

    The billing day belongs to the subscription, not to the day a phase happens to start: a phase that
    starts where the previous one would have started a period (30 April for the 31st, 28 February for the
    29th) keeps ``previous``; one that starts on any other day (a change that begins a new anniversary)
    bills on its anchor's day. The first phase (``previous`` None) bills on its anchor's day."""
    if previous is not None and on_billing_day(anchor, previous):
        return previous
    return anchor.day


def period_start(rule: PeriodRule, index: int) -> date:
    """The first day of period ``index``: the billing-day rule.

    Period 0 starts on the anchor. Anniversary months and years start ``index * count`` units after the
    anchor, on ``min(rule.day_of_month, days in that month)``, counted from the anchor and never from the
    previous period, so a short month cannot move the billing day for good. Calendar months and years
    start on the 1st, weeks on Mondays, days every ``count`` days."""
    if index == 0:
        return rule.anchor
    steps = index * rule.count
    if _is_monthly(rule.unit):
        return add_months(rule.origin, steps * _months_in(rule.unit), rule.day_of_month)
    return rule.origin + timedelta(days=steps * _days_in(rule.unit))


def period_index(rule: PeriodRule, day: date) -> int:
    """The index ``n`` of the period containing ``day`` (0 for the first period)."""
    if day < rule.anchor:
        raise ValueError(f"{day} is before the first period, which starts on {rule.anchor}")
    origin = rule.origin
    if _is_monthly(rule.unit):
        months = (day.year - origin.year) * _MONTHS_PER_YEAR + day.month - origin.month
        index = months // (rule.count * _months_in(rule.unit))
    else:
        index = (day - origin).days // (rule.count * _days_in(rule.unit))
    # A clamped boundary (31 Jan → 28 Feb) may lie after ``day`` in the month the estimate lands in:
    # the day then belongs to the period before. One step back always suffices.
    if period_start(rule, index) > day:
        index -= 1
    return index


def nth_period(rule: PeriodRule, index: int) -> Period:
    """Period number ``index`` of ``rule``, counted from 0."""
    if index < 0:
        raise ValueError(f"period indexes start at 0, got {index}")
    return Period(period_start(rule, index), period_start(rule, index + 1))


def period_containing(rule: PeriodRule, day: date) -> Period:
    """The period of ``rule`` that ``day`` lies in."""
    return nth_period(rule, period_index(rule, day))


def next_period(rule: PeriodRule, period: Period) -> Period:
    """The period of ``rule`` that follows ``period``; the rule is needed for the anchor's day of month."""
    return period_containing(rule, period.end)


def nominal_period(rule: PeriodRule, index: int) -> Period:
    """The full-length period that period ``index`` is part of. It differs from :func:`nth_period` only for
    a calendar-aligned first period that starts after its calendar start: for a monthly rule anchored on
    15 March it is ``[1 Mar, 1 Apr)``; prorate the partial period's price by its days over this one's."""
    if index == 0 and rule.alignment is Alignment.CALENDAR:
        return Period(rule.origin, period_start(rule, 1))
    return nth_period(rule, index)


def periods_between(rule: PeriodRule, start: date, end: date) -> list[Period]:
    """The whole periods of ``rule`` that overlap the dates ``[start, end)``, in order."""
    first_day = max(start, rule.anchor)
    if end <= first_day:
        return []
    index = period_index(rule, first_day)
    periods = [nth_period(rule, index)]
    while periods[-1].end < end:
        index += 1
        periods.append(nth_period(rule, index))
    return periods


def change_effective_date(change_day: date) -> date:
    """The first day a change made on local day ``change_day`` applies to: the day after it."""
    return change_day + timedelta(days=1)


def used_days(period: Period, change_day: date) -> int:
    """Days of ``period`` used when a change is made on local day ``change_day``: its days up to and
    including ``change_day`` (0 if the change precedes the period, all if it follows it)."""
    return min(max((change_day - period.start).days + 1, 0), period.days)


def unused_days(period: Period, change_day: date) -> int:
    """Days of ``period`` after ``change_day``: those a stop on ``change_day`` gives back."""
    return period.days - used_days(period, change_day)


def prorate_by_days(amount: Money, period: Period, days: int) -> Money:
    """The share ``days / period.days`` of ``amount``, rounded half away from zero."""
    if not 0 <= days <= period.days:
        raise ValueError(f"{days} days is not part of a {period.days}-day period")
    return amount.prorate(days, period.days)


@dataclass(frozen=True, slots=True)
class DaySplit:
    """A period's price split at a change: ``used + unused == price`` to the øre."""

    used_days: int
    unused_days: int
    used: Money
    unused: Money


def split_at_change(price: Money, period: Period, change_day: date) -> DaySplit:
    """Split ``price`` for ``period`` at a change made on ``change_day``. The unused share is rounded
    (it is what a credit note gives back); the used share is the rest, so no øre appears or vanishes."""
    days_left = unused_days(period, change_day)
    unused = prorate_by_days(price, period, days_left)
    return DaySplit(
        used_days=period.days - days_left,
        unused_days=days_left,
        used=price - unused,
        unused=unused,
    )
