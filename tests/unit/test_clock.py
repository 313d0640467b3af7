"""The stored test clock: runs with wall time or stands frozen, and never moves back."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest

from chalicelib.clock import ClockState, StoredClock, local_date, start_of_local_day
from chalicelib.errors import ClockAdvancingError, ClockMovesBackwardsError
from chalicelib.jobs.runner import RunProgress, ScheduleRunner
from chalicelib.system.clock_service import ClockService, day_steps

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


@dataclass
class SlowRunner:
    """Stands in for the schedule runner: each step's work takes ``takes`` of wall time."""

    wall: list[datetime]
    takes: timedelta
    ends: list[datetime] = field(default_factory=list)

    def run_until(
        self, until: datetime, since: datetime, cursors: dict[str, datetime], deadline: float | None = None
    ) -> RunProgress:
        self.ends.append(until)
        cursors["Daily"] = until
        self.wall[0] += self.takes
        return RunProgress()


def test_a_running_clock_advances_over_many_days_however_slow_each_day_is() -> None:
    """The README's advance on a running clock answered 409 once a day's work had let wall time pass
    the next step: a step of the advance itself never refuses."""
    wall = [T0]
    store = MemoryClockStore(ClockState(instant=T0, wall_anchor=T0, frozen=False, version=1))
    runner = SlowRunner(wall, takes=timedelta(days=2))
    service = ClockService(
        StoredClock(store=store, wall=lambda: wall[0]),
        store,
        lambda: cast(ScheduleRunner, runner),
        threading.Lock(),
    )
    result = service.advance(T0 + timedelta(days=5))
    assert result.complete
    # One step per local day crossed (each up to its last second), then the target itself
    assert len(runner.ends) == 6
    assert runner.ends[-1] == T0 + timedelta(days=5)
    assert store.state is not None and store.state.advancing_to is None
    # The running clock went on with wall time while the work ran; it never moved back
    instants = [state.instant for state in store.writes]
    assert instants == sorted(instants)


def test_day_steps_end_each_local_day_on_its_last_second() -> None:
    steps = list(day_steps(datetime(2027, 1, 1, 8, 0, tzinfo=UTC), datetime(2027, 1, 3, 11, 0, tzinfo=UTC)))
    assert [step.end for step in steps] == [
        datetime(2027, 1, 1, 22, 59, 59, tzinfo=UTC),
        datetime(2027, 1, 2, 22, 59, 59, tzinfo=UTC),
        datetime(2027, 1, 3, 11, 0, tzinfo=UTC),
    ]


def test_a_second_advance_waits_for_the_first() -> None:
    store = MemoryClockStore(
        ClockState(instant=T0, wall_anchor=T0, frozen=True, advancing_to=T0 + timedelta(1))
    )
    service = ClockService(
        StoredClock(store=store, wall=lambda: T0), store, lambda: cast(ScheduleRunner, None), threading.Lock()
    )
    with pytest.raises(ClockAdvancingError):
        service.request_advance(T0 + timedelta(days=2))
    assert store.writes == []
