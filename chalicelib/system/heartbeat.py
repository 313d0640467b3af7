"""The scheduler's heartbeat: a scheduled job whose only work is to prove schedules fire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class HeartbeatWriter(Protocol):
    """Where heartbeats are recorded."""

    def record_heartbeat(self, beat_at: datetime, moment: datetime, source: str) -> None:
        """Record one beat."""
        ...


@dataclass
class HeartbeatService:
    """Records that the scheduler fired for ``moment``; /health reads it."""

    writer: HeartbeatWriter
    wall: Callable[[], datetime]

    def beat(self, moment: datetime, source: str) -> datetime:
        """Record a beat now (wall time) for the scheduled moment; returns the wall time."""
        beat_at = self.wall()
        self.writer.record_heartbeat(beat_at=beat_at, moment=moment, source=source)
        return beat_at
