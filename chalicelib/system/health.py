"""Health: the API answers, storage answers, and the scheduler has beaten recently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.errors import UnavailableError


class HeartbeatReader(Protocol):
    """Where the scheduler's heartbeat is kept."""

    def last_heartbeat(self) -> datetime | None:
        """Wall time of the last heartbeat."""
        ...


@dataclass(frozen=True)
class HealthReport:
    """A healthy platform's vital signs."""

    stage: str
    last_heartbeat: datetime


@dataclass
class HealthService:
    """Checks storage and the scheduler; raises :class:`UnavailableError` when either is down."""

    heartbeats: HeartbeatReader
    stage: str
    stale_after: timedelta
    wall: Callable[[], datetime]

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
        return HealthReport(stage=self.stage, last_heartbeat=beat)
