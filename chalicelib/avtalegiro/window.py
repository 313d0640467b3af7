"""When a claim may fall due: the AvtaleGiro window, in Oslo time, with Norwegian bank holidays.

A file reaches Nets on a *processing day*: today when it is a bank day and before the 14:00 cut-off,
else the next bank day. A claim must then be due at least four calendar days after the processing day,
where public holidays (and the bank holidays 24 and 31 December) do not count as calendar days; and at
most twelve months after today. netsgiro's own ``get_minimum_due_date`` is asked too (with Oslo wall
time: it reads the hour of whatever it is given) and the later of the two answers wins, so that a file
we write never fails netsgiro's validation. A deletion must reach Nets by the cut-off of a bank day
before the due date.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays
from netsgiro import get_minimum_due_date

from chalicelib.clock import DEFAULT_TIME_ZONE
from chalicelib.formats.avtalegiro.claims import DueWindow

CUT_OFF = time(14, 0)
MINIMUM_NOTICE_DAYS = 4
MAX_MONTHS_AHEAD = 12


@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    found = holidays.country_holidays("NO", years=year)
    # Norwegian banks also close on Christmas Eve and New Year's Eve.
    return frozenset([*found.keys(), date(year, 12, 24), date(year, 12, 31)])


def is_holiday(day: date) -> bool:
    """A Norwegian public holiday, or 24 or 31 December."""
    return day in _public_holidays(day.year)


def is_bank_day(day: date) -> bool:
    """A weekday that is not a holiday: Nets processes files on these."""
    return day.weekday() < 5 and not is_holiday(day)


def next_bank_day(day: date) -> date:
    """The first bank day after ``day``."""
    day += timedelta(days=1)
    while not is_bank_day(day):
        day += timedelta(days=1)
    return day


def _local(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return now.astimezone(DEFAULT_TIME_ZONE)


def processing_day(now: datetime) -> date:
    """The bank day Nets processes a file sent at ``now``."""
    local = _local(now)
    today = local.date()
    if is_bank_day(today) and local.time() < CUT_OFF:
        return today
    return next_bank_day(today)


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (31, 30, 29, 28):
        if day.day <= candidate:
            try:
                return date(year, month, min(day.day, candidate))
            except ValueError:
                continue
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def earliest_due_date(now: datetime) -> date:
    """The earliest due date a claim sent at ``now`` may carry."""
    day = processing_day(now)
    counted = 0
    while counted < MINIMUM_NOTICE_DAYS:
        day += timedelta(days=1)
        if not is_holiday(day):
            counted += 1
    netsgiro_minimum = get_minimum_due_date(_local(now).replace(tzinfo=None))
    return max(day, netsgiro_minimum)


def latest_due_date(now: datetime) -> date:
    """The latest due date a claim sent at ``now`` may carry: twelve months ahead."""
    return _add_months(_local(now).date(), MAX_MONTHS_AHEAD)


def due_window(now: datetime) -> DueWindow:
    """The due dates a claim file sent at ``now`` may carry."""
    return DueWindow(earliest_due_date(now), latest_due_date(now))


def may_delete(due_date: date, now: datetime) -> bool:
    """Whether a deletion sent at ``now`` reaches Nets by the cut-off of a bank day before ``due_date``."""
    return processing_day(now) < due_date


def deletion_window(now: datetime) -> DueWindow:
    """The due dates whose claims a deletion file sent at ``now`` can still delete."""
    return DueWindow(processing_day(now) + timedelta(days=1), latest_due_date(now))


__all__ = [
    "CUT_OFF",
    "MINIMUM_NOTICE_DAYS",
    "deletion_window",
    "due_window",
    "earliest_due_date",
    "is_bank_day",
    "is_holiday",
    "latest_due_date",
    "may_delete",
    "next_bank_day",
    "processing_day",
]
