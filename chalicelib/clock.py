"""One clock for the whole platform.

Production reads system time. Every other stage reads the test clock stored in the main table, so that
every Lambda sees the same time; it runs with wall time from an anchor, or stands frozen, and only ever
moves forward. Jobs never read the clock themselves: they are given the moment they run for.

While the test clock runs a scheduled moment in process, that moment is pinned for the thread doing the work
(:func:`pinned_time`), so a job and the queued work it settles read the moment it runs for without a read of
the stored clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from chalicelib.errors import ClockMovesBackwardsError

DEFAULT_TIME_ZONE = ZoneInfo("Europe/Oslo")


class Clock(Protocol):
    """Anything that tells the platform's current instant (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """The current instant."""
        ...


def wall_time() -> datetime:
    """The machine's time, in UTC."""
    return datetime.now(UTC)


class SystemClock:
    """Wall time: the production clock."""

    def now(self) -> datetime:
        """The machine's current instant."""
        return wall_time()


@dataclass
class FixedClock:
    """A clock that says what it is told: for pure tests."""

    instant: datetime

    def now(self) -> datetime:
        """The instant it was set to."""
        return self.instant


_pinned_time: ContextVar[datetime | None] = ContextVar("abo_pinned_time", default=None)


@contextmanager
def pinned_time(moment: datetime) -> Iterator[None]:
    """Within this block (this thread only) the stored clock reads ``moment``: the scheduled moment a job
    runs for while the test clock runs it in process."""
    token = _pinned_time.set(moment)
    try:
        yield
    finally:
        _pinned_time.reset(token)


@dataclass(frozen=True)
class ClockState:
    """The stored test clock: ``instant`` as of wall time ``wall_anchor``; frozen or running.

    ``advancing_to`` is set while an advance is under way (the scheduled moments up to it are being run);
    ``cursors`` holds, per schedule, the last scheduled moment that has run."""

    instant: datetime
    wall_anchor: datetime
    frozen: bool
    version: int = 0
    advancing_to: datetime | None = None
    cursors: Mapping[str, datetime] = field(default_factory=dict)

    @property
    def advancing(self) -> bool:
        """Whether an advance is under way."""
        return self.advancing_to is not None

    def now_at(self, wall: datetime) -> datetime:
        """The platform time when the wall clock shows ``wall``."""
        if self.frozen:
            return self.instant
        return self.instant + max(wall - self.wall_anchor, timedelta(0))

    def advanced_to(self, target: datetime, wall: datetime, frozen: bool | None = None) -> ClockState:
        """The state after a person asks to move to ``target``; refuses to move backwards."""
        current = self.now_at(wall)
        if target < current:
            raise ClockMovesBackwardsError(
                f"the clock is at {current.isoformat()}; it cannot move back to {target.isoformat()}"
            )
        return replace(
            self,
            instant=target,
            wall_anchor=wall,
            frozen=self.frozen if frozen is None else frozen,
            version=self.version + 1,
        )

    def stepped_to(self, target: datetime, wall: datetime) -> ClockState:
        """The state after an advance's own step to ``target``: never refused. A running clock that has
        already passed ``target`` (its wall time went on while the step's work ran) stays where it is."""
        return replace(
            self,
            instant=max(target, self.now_at(wall)),
            wall_anchor=wall,
            version=self.version + 1,
        )


class ClockStateStore(Protocol):
    """Where the test clock lives (the main table in every stage but production)."""

    def load_clock(self) -> ClockState | None:
        """The stored state, or None when never set."""
        ...

    def save_clock(self, state: ClockState, expected_version: int | None) -> None:
        """Store the state if nobody else changed it since it was read."""
        ...


@dataclass
class StoredClock:
    """The test clock: reads the stored state on every call so that every process agrees."""

    store: ClockStateStore
    start: datetime | None = None
    start_frozen: bool = False
    wall: Callable[[], datetime] = wall_time

    def state(self) -> ClockState:
        """The stored state, or the configured starting state when none is stored yet."""
        stored = self.store.load_clock()
        if stored is not None:
            return stored
        wall = self.wall()
        return ClockState(instant=self.start or wall, wall_anchor=wall, frozen=self.start_frozen, version=0)

    def now(self) -> datetime:
        """The platform's current instant (the pinned moment while a scheduled job runs in process)."""
        pinned = _pinned_time.get()
        if pinned is not None:
            return pinned
        return self.state().now_at(self.wall())


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the zone database on every call: read it once.
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this platform knows (``Europe/Oslo``, ``America/Nuuk``)."""
    return name in _known_zones()


def local_date(instant: datetime, zone: ZoneInfo = DEFAULT_TIME_ZONE) -> date:
    """The business date of ``instant`` in a legal entity's time zone."""
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return instant.astimezone(zone).date()


def start_of_local_day(day: date, zone: ZoneInfo = DEFAULT_TIME_ZONE) -> datetime:
    """The instant local ``day`` begins in ``zone``, in UTC."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
