"""Reading and advancing the test clock; advancing runs every scheduled job for each moment passed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.clock import ClockState, ClockStateStore, StoredClock
from chalicelib.jobs.runner import ScheduledRun, ScheduleRunner


@dataclass(frozen=True)
class ClockReading:
    """What the clock says now."""

    now: datetime
    frozen: bool


@dataclass(frozen=True)
class AdvanceResult:
    """The clock after an advance, and the scheduled moments that ran on the way."""

    now: datetime
    frozen: bool
    runs: list[ScheduledRun]


class ClockService:
    """The test clock of API.md: read it, or move it forward and settle all resulting work."""

    def __init__(
        self,
        clock: StoredClock,
        store: ClockStateStore,
        runner_factory: Callable[[], ScheduleRunner],
        lock: threading.Lock,
    ) -> None:
        self._clock = clock
        self._store = store
        self._runner_factory = runner_factory
        self._lock = lock

    def read(self) -> ClockReading:
        """The platform time now."""
        state = self._clock.state()
        return ClockReading(now=state.now_at(self._clock.wall()), frozen=state.frozen)

    def advance(self, target: datetime, frozen: bool | None = None) -> AdvanceResult:
        """Move to ``target`` (never backwards), then run each scheduled moment passed, in order."""
        with self._lock:
            state: ClockState = self._clock.state()
            wall = self._clock.wall()
            current = state.now_at(wall)
            moved = state.advanced_to(target, wall, frozen)
            self._store.save_clock(moved, expected_version=state.version or None)
            runs = self._runner_factory().run_until(target, since=current)
            return AdvanceResult(now=target, frozen=moved.frozen, runs=runs)

    def tick(self) -> list[ScheduledRun]:
        """Run whatever is due at the current platform time (the local scheduler calls this)."""
        with self._lock:
            now = self._clock.now()
            return self._runner_factory().run_until(now, since=now)
