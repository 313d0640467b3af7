"""The events table: every recorded event, written in its change's transaction, and its stream.

Keys: ``pk`` = ``DAY#<UTC date>``, ``sk`` = the event id (ids sort by instant); index ``by_type``:
``type_day`` = ``<type>#<UTC date>``, ``sk``. A day's partition keeps write bursts (an invoice run issuing
many invoices) to one day's events, and a page walks days forward from a cursor. Events are kept
:data:`RETENTION_DAYS` (DynamoDB's TTL on ``expires_at``); the daily exports keep them for longer.

The table's stream (new images) carries each new event to the dispatcher (``functions/events.py``):
through Lambda's DynamoDB event-source mapping in AWS, through :class:`chalicelib.jobs.streams.StreamPump`
locally.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.errors import ValidationFailedError
from chalicelib.events import MAX_EVENTS_PAGE, Event, EventType, event_instant
from chalicelib.settings import Settings

RETENTION_DAYS = 90
MAX_PAGE = MAX_EVENTS_PAGE


class EventsByType(GlobalSecondaryIndex["EventItem"]):  # type: ignore[no-untyped-call]
    """A type's events of one day, in id order."""

    class Meta:
        index_name = "by_type"
        projection = AllProjection()

    type_day = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class EventItem(Model):
    """One event in the events table."""

    class Meta:
        table_name = "abo-events"
        region = "eu-north-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    type_day = UnicodeAttribute()
    type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    legal_entity_id = UnicodeAttribute()
    data = UnicodeAttribute()
    expires_at = NumberAttribute()
    by_type = EventsByType()


def bind_events_table(settings: Settings) -> None:
    """Point the events model at the deployment's events table."""
    EventItem.Meta.table_name = settings.events_table
    EventItem.Meta.region = settings.region


def _day(instant: datetime) -> str:
    return instant.astimezone(UTC).date().isoformat()


def event_item(event: Event) -> EventItem:
    """The stored form of ``event``."""
    day = _day(event.occurred_at)
    return EventItem(
        pk=f"DAY#{day}",
        sk=event.id,
        type_day=f"{event.type.value}#{day}",
        type=event.type.value,
        occurred_at=event.occurred_at.astimezone(UTC).isoformat(),
        legal_entity_id=event.legal_entity_id,
        data=json.dumps(dict(event.data), sort_keys=True, separators=(",", ":")),
        expires_at=int((event.occurred_at + timedelta(days=RETENTION_DAYS)).timestamp()),
    )


def event_from_item(item: EventItem) -> Event:
    """The event an item stores."""
    return Event(
        id=item.sk,
        type=EventType(item.type),
        occurred_at=datetime.fromisoformat(item.occurred_at),
        legal_entity_id=item.legal_entity_id,
        data=json.loads(item.data),
    )


def event_from_stream_image(image: Mapping[str, Any]) -> Event:
    """The event a stream record's ``NewImage`` (DynamoDB JSON) holds."""

    def text(name: str) -> str:
        return str(image[name]["S"])

    return Event(
        id=text("sk"),
        type=EventType(text("type")),
        occurred_at=datetime.fromisoformat(text("occurred_at")),
        legal_entity_id=text("legal_entity_id"),
        data=json.loads(text("data")),
    )


@dataclass(frozen=True)
class EventPage:
    """Events in id order; ``next_after`` continues the list (None at the end, for now)."""

    events: Sequence[Event]
    next_after: str | None


class EventLog:
    """Reads the recorded events."""

    def page(
        self,
        today: date,
        type_: EventType | None = None,
        after: str | None = None,
        legal_entity_id: str | None = None,
        limit: int = MAX_PAGE,
    ) -> EventPage:
        """Events after the event id ``after`` (or from the start of the retention period), oldest
        first, up to ``today`` (UTC); of one type and one seller when given."""
        if not 1 <= limit <= MAX_PAGE:
            raise ValidationFailedError(f"limit must be between 1 and {MAX_PAGE}")
        first = today - timedelta(days=RETENTION_DAYS)
        if after is not None:
            try:
                first = max(first, event_instant(after).date())
            except ValueError as error:
                raise ValidationFailedError(f"after: {error}") from error
        found: list[Event] = []
        day = first
        while day <= today and len(found) < limit:
            found += self._day(day, type_, after, legal_entity_id, limit - len(found))
            day += timedelta(days=1)
        more = len(found) == limit
        return EventPage(found, found[-1].id if more else None)

    def _day(
        self, day: date, type_: EventType | None, after: str | None, legal_entity_id: str | None, limit: int
    ) -> list[Event]:
        sk_condition = EventItem.sk > after if after is not None else None
        filter_condition = EventItem.legal_entity_id == legal_entity_id if legal_entity_id else None
        if type_ is None:
            items = EventItem.query(
                f"DAY#{day.isoformat()}",
                range_key_condition=sk_condition,
                filter_condition=filter_condition,
                consistent_read=True,
            )
        else:
            items = EventItem.by_type.query(
                f"{type_.value}#{day.isoformat()}",
                range_key_condition=sk_condition,
                filter_condition=filter_condition,
            )
        events: list[Event] = []
        for item in items:
            events.append(event_from_item(item))
            if len(events) == limit:
                break
        return events
