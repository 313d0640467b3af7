"""Items the platform keeps about itself: the test clock, schedule cursors, heartbeats."""

from __future__ import annotations

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


class ScheduleCursorItem(MainItem):
    """The last scheduled moment that was run for one schedule."""

    last_run = UTCDateTimeAttribute()


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
        return ClockState(
            instant=item.instant,
            wall_anchor=item.wall_anchor,
            frozen=item.frozen,
            version=int(item.version),
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

    def schedule_cursor(self, schedule: str) -> datetime | None:
        """The last moment run for ``schedule``, if any."""
        try:
            return ScheduleCursorItem.get(SYSTEM_PK, f"SCHEDULE#{schedule}", consistent_read=True).last_run
        except DoesNotExist:
            return None

    def set_schedule_cursor(self, schedule: str, moment: datetime) -> None:
        """Record that ``moment`` of ``schedule`` has run; never moves a cursor back."""
        item = ScheduleCursorItem(SYSTEM_PK, f"SCHEDULE#{schedule}", last_run=moment)
        try:
            item.save(
                condition=ScheduleCursorItem.pk.does_not_exist() | (ScheduleCursorItem.last_run < moment)
            )
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
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
