"""Reading and advancing the test clock.

An advance is asynchronous, like Stripe's test clocks: a request records where the clock is going
(``advancing_to``) and queues the work; the clock-advance function then steps through the local days in
between, running every scheduled moment of each day in order with all the work it queues, and marks the
clock ready. ``GET /v1/test/clock`` shows ``advancing`` until then. A step never refuses: a running clock
whose wall time has passed a step's end simply stays where it is. The clock state and every schedule's
cursor are one item, so an advance reads it once and writes it once per day it crosses.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.clock import ClockState, ClockStateStore, StoredClock, local_date, start_of_local_day
from chalicelib.errors import ClockAdvancingError, ConflictError
from chalicelib.jobs.runner import ScheduledRun, ScheduleRunner

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_LAST_SECOND = timedelta(seconds=1)
_BEGIN_ATTEMPTS = 3


@dataclass(frozen=True)
class ClockReading:
    """What the clock says now, and where it is going while an advance is under way."""

    now: datetime
    frozen: bool
    advancing_to: datetime | None = None

    @property
    def status(self) -> str:
        """``advancing`` while scheduled work of an advance is being run, else ``ready``."""
        return "advancing" if self.advancing_to is not None else "ready"


@dataclass(frozen=True)
class AdvanceResult:
    """The clock after an advance (or a part of one), and the scheduled moments that ran on the way."""

    now: datetime
    frozen: bool
    runs: list[ScheduledRun] = field(default_factory=list)
    complete: bool = True


@dataclass(frozen=True)
class DayStep:
    """One local day of an advance: the instant it starts and the instant the step runs up to."""

    day_start: datetime
    end: datetime


def day_steps(current: datetime, target: datetime) -> Iterator[DayStep]:
    """The steps from ``current`` to ``target``: each local day passed up to its last second, then the
    target itself. A scheduled job thus runs with its own day's business date."""
    day = local_date(current)
    last = local_date(target)
    while day < last:
        end = start_of_local_day(day + timedelta(days=1)) - _LAST_SECOND
        if end > current:
            yield DayStep(start_of_local_day(day), end)
        day += timedelta(days=1)
    yield DayStep(start_of_local_day(last), target)


class ClockAdvanceQueue:
    """Where an advance's work is queued for the clock-advance function."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def enqueue(self, target: datetime) -> None:
        """Queue (or queue again, to continue) the advance to ``target``."""
        self._sqs.send_message(
            QueueUrl=self._queue_url, MessageBody=json.dumps({"advance_to": target.isoformat()})
        )


class ClockService:
    """The test clock of API.md: read it, ask it to move forward, and work an advance to its end."""

    def __init__(
        self,
        clock: StoredClock,
        store: ClockStateStore,
        runner_factory: Callable[[], ScheduleRunner],
        lock: threading.Lock,
        queue: ClockAdvanceQueue | None = None,
        follower: Callable[[datetime], None] | None = None,
    ) -> None:
        self._clock = clock
        self._store = store
        self._runner_factory = runner_factory
        self._lock = lock
        self._queue = queue
        # Called with the instant the platform is about to run up to: the local stack moves its Vipps
        # simulator there first, so that what Vipps settles on a day is booked on that day.
        self._follower = follower

    def read(self) -> ClockReading:
        """The platform time now, and the target of an advance under way."""
        state = self._clock.state()
        return ClockReading(
            now=state.now_at(self._clock.wall()), frozen=state.frozen, advancing_to=state.advancing_to
        )

    def request_advance(self, target: datetime, frozen: bool | None = None) -> ClockReading:
        """Record that the clock is going to ``target`` (never backwards, one advance at a time) and queue
        the work; the clock-advance function runs it. Without a queue the work runs here and now."""
        state = self._begin(target, frozen)
        if self._queue is None:
            done = self.work_advance(begun=state)
            return ClockReading(now=done.now, frozen=done.frozen)
        self._queue.enqueue(target)
        return ClockReading(
            now=state.now_at(self._clock.wall()), frozen=state.frozen, advancing_to=state.advancing_to
        )

    def advance(self, target: datetime, frozen: bool | None = None) -> AdvanceResult:
        """Move to ``target`` and run every scheduled moment passed, here and now (tests, benches)."""
        return self.work_advance(begun=self._begin(target, frozen))

    def work_advance(self, deadline: float | None = None, begun: ClockState | None = None) -> AdvanceResult:
        """Run the advance under way, day by day; stop early (incomplete) once ``deadline``, a
        ``time.monotonic()`` value, has passed, with everything done so far stored. ``begun``: the state
        this process has just stored (saves reading it again)."""
        with self._lock:
            state = begun or self._clock.state()
            if state.advancing_to is None:
                return AdvanceResult(now=state.now_at(self._clock.wall()), frozen=state.frozen)
            target = state.advancing_to
            cursors = dict(state.cursors)
            since = state.now_at(self._clock.wall())
            runner = self._runner_factory()
            runs: list[ScheduledRun] = []
            for step in day_steps(since, target):
                if self._follower is not None:
                    # Into the day first, so that what the follower settles is booked on this day.
                    if step.day_start > state.now_at(self._clock.wall()):
                        state = self._write(
                            state, state.stepped_to(step.day_start, self._clock.wall()), cursors
                        )
                    self._follower(step.end)
                state = self._write(state, state.stepped_to(step.end, self._clock.wall()), cursors)
                progress = runner.run_until(step.end, since, cursors, deadline)
                runs += progress.runs
                if not progress.complete:
                    state = self._write(state, state, cursors)
                    return AdvanceResult(state.instant, state.frozen, runs, complete=False)
            wall = self._clock.wall()
            done = self._write(state, replace(state.stepped_to(target, wall), advancing_to=None), cursors)
            return AdvanceResult(done.now_at(wall), done.frozen, runs)

    def work_queued_advance(self, deadline: float | None = None) -> AdvanceResult:
        """The clock-advance function's work: run the advance under way until ``deadline``; if time ran
        out first, queue it again to go on from where it stopped (what ran is stored)."""
        result = self.work_advance(deadline)
        if not result.complete and self._queue is not None:
            target = self._clock.state().advancing_to
            if target is not None:
                self._queue.enqueue(target)
        return result

    def tick(self) -> list[ScheduledRun]:
        """Run whatever is due at the current platform time (the local scheduler calls this); nothing while
        an advance is under way (it runs those moments itself)."""
        with self._lock:
            state = self._clock.state()
            if state.advancing_to is not None:
                return []
            now = state.now_at(self._clock.wall())
            if self._follower is not None:
                self._follower(now)
            cursors = dict(state.cursors)
            progress = self._runner_factory().run_until(now, now, cursors)
            if cursors != state.cursors:
                self._write(state, state, cursors)
            return progress.runs

    def _begin(self, target: datetime, frozen: bool | None) -> ClockState:
        # Not under the job lock: a request must not wait for a running advance, only be told about it.
        # The write is conditional on the version read; the local scheduler may store cursors in between.
        for attempt in range(_BEGIN_ATTEMPTS):
            state = self._clock.state()
            if state.advancing_to is not None:
                raise ClockAdvancingError(
                    f"the clock is still advancing to {state.advancing_to.isoformat()}; "
                    "read it until its status is ready, then advance again"
                )
            wall = self._clock.wall()
            checked = state.advanced_to(target, wall, frozen)  # refuses a target in the past
            # The instant moves day by day while the work runs; only the target is recorded now.
            begun = replace(
                state,
                instant=state.now_at(wall),
                wall_anchor=wall,
                frozen=checked.frozen,
                advancing_to=target,
            )
            try:
                return self._write(state, begun, dict(state.cursors))
            except ConflictError:
                if attempt == _BEGIN_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _write(self, stored: ClockState, changed: ClockState, cursors: dict[str, datetime]) -> ClockState:
        """Store ``changed`` with ``cursors`` in place of ``stored`` (conditional on its version)."""
        written = replace(changed, cursors=dict(cursors), version=stored.version + 1)
        self._store.save_clock(written, expected_version=stored.version or None)
        return written


def remaining_deadline(remaining_millis: int, margin_seconds: float = 30.0) -> float:
    """A ``time.monotonic()`` deadline that leaves ``margin_seconds`` of a Lambda's remaining time."""
    return time.monotonic() + max(remaining_millis / 1000 - margin_seconds, 1.0)
