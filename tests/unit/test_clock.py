"""The stored test clock: runs with wall time or stands frozen, and never moves back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.clock import ClockState, StoredClock, local_date, start_of_local_day
from chalicelib.errors import ClockMovesBackwardsError

T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class MemoryClockStore:
    state: ClockState | None = None
    writes: list[ClockState] = field(default_factory=list)

    def load_clock(self) -> ClockState | None:
        return self.state

    def save_clock(self, state: ClockState, expected_version: int | None) -> None:
        self.state = state
        self.writes.append(state)


def test_a_running_clock_follows_wall_time_from_its_anchor() -> None:
    state = ClockState(instant=T0, wall_anchor=T0 - timedelta(days=30), frozen=False)
    assert state.now_at(T0 - timedelta(days=29)) == T0 + timedelta(days=1)


def test_a_frozen_clock_stands_still() -> None:
    state = ClockState(instant=T0, wall_anchor=T0, frozen=True)
    assert state.now_at(T0 + timedelta(hours=5)) == T0


def test_advancing_never_moves_back() -> None:
    state = ClockState(instant=T0, wall_anchor=T0, frozen=True, version=3)
    moved = state.advanced_to(T0 + timedelta(days=1), wall=T0)
    assert (moved.instant, moved.version, moved.frozen) == (T0 + timedelta(days=1), 4, True)
    assert state.advanced_to(T0, wall=T0).instant == T0  # standing still is allowed
    with pytest.raises(ClockMovesBackwardsError):
        state.advanced_to(T0 - timedelta(seconds=1), wall=T0)


def test_a_fresh_stored_clock_starts_where_configured() -> None:
    clock = StoredClock(store=MemoryClockStore(), start=T0, start_frozen=True, wall=lambda: T0 + timedelta(1))
    assert clock.now() == T0
    unconfigured = StoredClock(store=MemoryClockStore(), wall=lambda: T0)
    assert unconfigured.now() == T0


def test_local_dates_follow_oslo_across_dst() -> None:
    # 23:30 UTC on 30 March 2027 is already 31 March in Oslo (summer time, UTC+2).
    assert local_date(datetime(2027, 3, 30, 23, 30, tzinfo=UTC)) == date(2027, 3, 31)
    # In winter Oslo is UTC+1.
    assert start_of_local_day(date(2027, 1, 15)) == datetime(2027, 1, 14, 23, 0, tzinfo=UTC)
    assert start_of_local_day(date(2027, 7, 15)) == datetime(2027, 7, 14, 22, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2027, 1, 1))
