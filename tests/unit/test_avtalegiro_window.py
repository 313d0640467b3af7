"""The AvtaleGiro due-date window: 14:00 Oslo cut-off, four calendar days, Norwegian holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.avtalegiro.window import (
    due_window,
    earliest_due_date,
    is_bank_day,
    latest_due_date,
    may_delete,
    processing_day,
)


def oslo(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_before_the_cut_off_the_file_is_processed_today() -> None:
    assert processing_day(oslo("2027-02-24T13:59:00+01:00")) == date(2027, 2, 24)
    assert earliest_due_date(oslo("2027-02-24T13:59:00+01:00")) == date(2027, 2, 28)


def test_at_the_cut_off_the_file_is_processed_the_next_bank_day() -> None:
    assert processing_day(oslo("2027-02-24T14:00:00+01:00")) == date(2027, 2, 25)
    assert earliest_due_date(oslo("2027-02-24T14:00:00+01:00")) == date(2027, 3, 1)


def test_the_cut_off_is_oslo_time_not_utc() -> None:
    # 12:30 UTC is 14:30 in Oslo in summer: already past the cut-off.
    assert processing_day(datetime(2027, 6, 9, 12, 30, tzinfo=UTC)) == date(2027, 6, 10)


def test_a_weekend_file_is_processed_on_monday() -> None:
    assert processing_day(oslo("2027-02-27T09:00:00+01:00")) == date(2027, 3, 1)
    assert earliest_due_date(oslo("2027-02-27T09:00:00+01:00")) == date(2027, 3, 5)


def test_17_may_and_whit_monday_do_not_count() -> None:
    # Wednesday 12 May 2027: 13, 14, 15 count, 16 (Whit Sunday) and 17 (Constitution Day) do not.
    assert earliest_due_date(oslo("2027-05-12T10:00:00+02:00")) == date(2027, 5, 18)
    assert not is_bank_day(date(2027, 5, 17))


def test_easter_holidays_do_not_count() -> None:
    # Wednesday before Easter 2027: Maundy Thursday to Easter Monday are holidays.
    assert earliest_due_date(oslo("2027-03-24T10:00:00+01:00")) == date(2027, 4, 1)
    assert processing_day(oslo("2027-03-24T15:00:00+01:00")) == date(2027, 3, 30)


def test_christmas_and_bank_closed_eves() -> None:
    assert not is_bank_day(date(2027, 12, 24))
    assert not is_bank_day(date(2027, 12, 31))
    # Tuesday 21 Dec 2027 after the cut-off: processed Wed 22nd; 23, 27, 28 (Mon/Tue) … count.
    assert earliest_due_date(oslo("2027-12-21T15:00:00+01:00")) == date(2027, 12, 29)


def test_latest_is_twelve_months_ahead() -> None:
    assert latest_due_date(oslo("2027-03-15T10:00:00+01:00")) == date(2028, 3, 15)
    assert latest_due_date(oslo("2028-02-29T10:00:00+01:00")) == date(2029, 2, 28)
    window = due_window(oslo("2027-03-15T10:00:00+01:00"))
    assert window.contains(date(2028, 3, 15)) and not window.contains(date(2028, 3, 16))


def test_deletions_reach_nets_by_a_bank_days_cut_off_before_due() -> None:
    assert may_delete(date(2027, 2, 25), oslo("2027-02-24T13:00:00+01:00"))
    assert not may_delete(date(2027, 2, 25), oslo("2027-02-24T14:00:00+01:00"))


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        processing_day(datetime(2027, 1, 1, 9, 0))
