"""Health: the API answers, storage answers, the scheduler has beaten recently, and no daily run is late.

A run is late when its work is still listed in the due index more than :data:`LATE_AFTER` after the day it
fell due: its run failed (the next run catches it up, and the alarms of template.yaml tell the operator) or
something it keeps skipping needs a person. A late run does not make the platform unhealthy: it is named
in the report, which a monitor can alert on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from chalicelib.errors import UnavailableError

LATE_AFTER = timedelta(days=1)


class HeartbeatReader(Protocol):
    """Where the scheduler's heartbeat is kept."""

    def last_heartbeat(self) -> datetime | None:
        """Wall time of the last heartbeat."""
        ...


@dataclass(frozen=True)
class HealthReport:
    """A healthy platform's vital signs; ``runs`` holds, for each watched run, the day its oldest work
    left undone fell due (None: not late)."""

    stage: str
    last_heartbeat: datetime
    runs: Mapping[str, date | None] = field(default_factory=dict)


@dataclass
class HealthService:
    """Checks storage and the scheduler (raising :class:`UnavailableError` when either is down) and which
    daily runs are late."""

    heartbeats: HeartbeatReader
    stage: str
    stale_after: timedelta
    wall: Callable[[], datetime]
    earliest_due: Callable[[str, date], date | None]
    business_date: Callable[[], date]
    watched_runs: Sequence[str] = ()

    def check(self) -> HealthReport:
        """Report health, or raise what is wrong."""
        try:
            beat = self.heartbeats.last_heartbeat()
        except Exception as error:
            raise UnavailableError("storage does not answer") from error
        if beat is None:
            raise UnavailableError("the scheduler has not run yet")
        if self.wall() - beat > self.stale_after:
            raise UnavailableError(f"the scheduler last ran at {beat.isoformat()}")
        return HealthReport(stage=self.stage, last_heartbeat=beat, runs=self.late_since())

    def late_since(self) -> dict[str, date | None]:
        """For each watched run, the day its oldest work due before yesterday fell due; None if none."""
        cutoff = self.business_date() - LATE_AFTER
        return {run: self.earliest_due(run, cutoff) for run in self.watched_runs}
