"""Events: what changed, recorded in the same transaction as the change, dispatched after commit.

An :class:`Event` is ``{id, type, occurred_at, legal_entity_id, data}`` (API.md). Its ``data`` follows the
JSON schema of its type (:mod:`chalicelib.events.catalogue`, documented in ``docs/events.md``). A flow builds
its events with :func:`new_event` and hands them to the transaction that writes the change
(``DocumentStore.write(..., events=...)``), so an event exists exactly when its change committed.

Ids are stable: ``evt_`` + 10 Crockford base32 characters of the instant (milliseconds, so ids sort by
time) + 16 of 80 random bits (counting up within one millisecond of one process, as monotonic ULIDs do),
given once when the change is built. The event is written with its change
(whose own conditions refuse a second commit, and whose transaction recognises its own commit by these
same items), keeps its id through every redelivery, and every consumer deduplicates by id. Two changes
of one subject within one millisecond (a frozen test clock) still get two ids.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.events.catalogue import EventType, validate_data

__all__ = ["MAX_EVENTS_PAGE", "Event", "EventType", "event_id", "event_instant", "new_event"]

MAX_EVENTS_PAGE = 100
"""The most events one page lists."""

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TIME_CHARS = 10  # 50 bits of milliseconds: until the year 37 648
_RANDOM_CHARS = 16  # 80 random bits
ID_PREFIX = "evt_"


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


_last_id: list[int] = [0, 0]  # the millisecond and random part of the last id this process gave
_last_id_lock = threading.Lock()


def event_id(occurred_at: datetime) -> str:
    """A new event id for an event at ``occurred_at``. Within one millisecond (a frozen test clock) a
    process's ids still sort in the order they were given: the random part of the previous id plus one,
    as monotonic ULIDs do."""
    millis = int(occurred_at.timestamp() * 1000)
    with _last_id_lock:
        if millis == _last_id[0] and _last_id[1] < 2**80 - 1:
            random_part = _last_id[1] + 1
        else:
            random_part = secrets.randbits(79)  # room to count up within the millisecond
        _last_id[0], _last_id[1] = millis, random_part
    return f"{ID_PREFIX}{_base32(millis, _TIME_CHARS)}{_base32(random_part, _RANDOM_CHARS)}"


def event_instant(id_: str) -> datetime:
    """The instant encoded in an event id (to page from it); ValueError when it is no event id."""
    body = id_.removeprefix(ID_PREFIX)
    if not id_.startswith(ID_PREFIX) or len(body) != _TIME_CHARS + _RANDOM_CHARS:
        raise ValueError(f"not an event id: {id_!r}")
    millis = 0
    for char in body[:_TIME_CHARS].upper():
        position = _ALPHABET.find(char)
        if position < 0:
            raise ValueError(f"not an event id: {id_!r}")
        millis = millis * 32 + position
    return datetime.fromtimestamp(millis / 1000, UTC)


@dataclass(frozen=True)
class Event:
    """One recorded change."""

    id: str
    type: EventType
    occurred_at: datetime
    legal_entity_id: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The public shape (API.md): ``{id, type, occurred_at, legal_entity_id, data}``."""
        return {
            "id": self.id,
            "type": self.type.value,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "legal_entity_id": self.legal_entity_id,
            "data": dict(self.data),
        }


def new_event(
    type_: EventType, legal_entity_id: str, occurred_at: datetime, data: Mapping[str, Any]
) -> Event:
    """An event of ``type_`` at ``occurred_at`` whose ``data`` is checked against the type's schema
    (ValueError if not)."""
    if occurred_at.tzinfo is None:
        raise ValueError("an event's instant must carry its time zone")
    return Event(
        event_id(occurred_at),
        type_,
        occurred_at.astimezone(UTC),
        legal_entity_id,
        validate_data(type_, data),
    )
