"""EventBridge schedule expressions, evaluated on the platform clock.

``rate(N unit)`` fires at every multiple of N units since the Unix epoch (UTC); ``cron(...)`` follows
EventBridge's six-field UTC cron, evaluated with pyawscron.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pyawscron import AWSCron

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ScheduleExpression:
    """A parsed ``rate(...)`` or ``cron(...)`` expression."""

    text: str
    every: timedelta | None
    cron: str | None

    def moments_between(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Every moment this schedule fires in the half-open interval ``(after, until]``, in order."""
        if until <= after:
            return
        if self.every is not None:
            step = int(self.every.total_seconds())
            elapsed = int((after - _EPOCH).total_seconds())
            moment = _EPOCH + timedelta(seconds=(elapsed // step + 1) * step)
            while moment <= until:
                yield moment
                moment += self.every
            return
        assert self.cron is not None
        moment = after.astimezone(UTC).replace(microsecond=0)
        cron = AWSCron(self.cron)
        while True:
            moment = cron.occurrence(moment).next()
            if moment is None or moment > until:
                return
            if moment > after:
                yield moment

    def latest_between(self, after: datetime, until: datetime) -> datetime | None:
        """The last moment in ``(after, until]``, without walking every moment of a rate."""
        if until <= after:
            return None
        if self.every is not None:
            step = int(self.every.total_seconds())
            latest = _EPOCH + timedelta(seconds=int((until - _EPOCH).total_seconds()) // step * step)
            return latest if latest > after else None
        last: datetime | None = None
        for moment in self.moments_between(after, until):
            last = moment
        return last


def parse_schedule(text: str) -> ScheduleExpression:
    """Parse an EventBridge schedule expression; raises ValueError for anything else."""
    rate = _RATE.match(text.strip())
    if rate:
        count = int(rate.group(1))
        if count <= 0:
            raise ValueError(f"a rate must be positive: {text}")
        unit = rate.group(2).rstrip("s")
        return ScheduleExpression(text, timedelta(seconds=count * _UNIT_SECONDS[unit]), None)
    cron = _CRON.match(text.strip())
    if cron:
        AWSCron(cron.group(1))  # validates the six fields now, not at the first firing
        return ScheduleExpression(text, None, cron.group(1))
    raise ValueError(f"not an EventBridge schedule expression: {text!r}")
