"""Items the platform keeps about itself: the test clock, schedule cursors, heartbeats."""

from __future__ import annotations

import json
from datetime import datetime

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.condition import Condition

from chalicelib.clock import ClockState
from chalicelib.errors import ConflictError
from chalicelib.store.base import MainItem

SYSTEM_PK = "SYSTEM"


class ClockItem(MainItem):
    """The stored test clock (one item)."""

    instant = UTCDateTimeAttribute()
    wall_anchor = UTCDateTimeAttribute()
    frozen = BooleanAttribute()
    version = NumberAttribute()
    advancing_to = UTCDateTimeAttribute(null=True)
    # {schedule name: ISO instant of the last moment run}: one item, so an advance reads and writes them once.
    cursors = UnicodeAttribute(null=True)


class HeartbeatItem(MainItem):
    """When the scheduler last proved it is alive."""

    beat_at = UTCDateTimeAttribute()
    moment = UTCDateTimeAttribute()
    source = UnicodeAttribute()


class SystemStore:
    """Reads and writes the platform's own bookkeeping items."""

    def load_clock(self) -> ClockState | None:
        """The stored clock, or None before it was ever set."""
        try:
            item = ClockItem.get(SYSTEM_PK, "CLOCK", consistent_read=True)
        except DoesNotExist:
            return None
        cursors = json.loads(item.cursors) if item.cursors else {}
        return ClockState(
            instant=item.instant,
            wall_anchor=item.wall_anchor,
            frozen=item.frozen,
            version=int(item.version),
            advancing_to=item.advancing_to,
            cursors={name: datetime.fromisoformat(moment) for name, moment in cursors.items()},
        )

    def save_clock(self, state: ClockState, expected_version: int | None) -> None:
        """Write the clock unless someone else moved it since ``expected_version`` was read."""
        item = ClockItem(
            SYSTEM_PK,
            "CLOCK",
            instant=state.instant,
            wall_anchor=state.wall_anchor,
            frozen=state.frozen,
            version=state.version,
            advancing_to=state.advancing_to,
            cursors=json.dumps({name: moment.isoformat() for name, moment in sorted(state.cursors.items())}),
        )
        condition: Condition = (
            ClockItem.pk.does_not_exist()
            if expected_version is None
            else ClockItem.version == expected_version
        )
        try:
            item.save(condition=condition)
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise ConflictError("the clock was moved concurrently; read it again and retry") from error
            raise

    def record_heartbeat(self, beat_at: datetime, moment: datetime, source: str) -> None:
        """Note that the scheduler ran at wall time ``beat_at`` for the scheduled ``moment``."""
        HeartbeatItem(SYSTEM_PK, "HEARTBEAT", beat_at=beat_at, moment=moment, source=source).save()

    def last_heartbeat(self) -> datetime | None:
        """Wall time of the scheduler's last heartbeat."""
        try:
            return HeartbeatItem.get(SYSTEM_PK, "HEARTBEAT").beat_at
        except DoesNotExist:
            return None
