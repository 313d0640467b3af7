"""Events: what changed, recorded in the same transaction as the change, dispatched after commit.

An :class:`Event` is ``{id, type, occurred_at, legal_entity_id, data}`` (API.md). Its ``data`` follows the
JSON schema of its type (:mod:`chalicelib.events.catalogue`, documented in ``docs/events.md``). A flow builds
its events with :func:`new_event` and hands them to the transaction that writes the change
(``DocumentStore.write(..., events=...)``), so an event exists exactly when its change committed.

Ids are stable: ``evt_`` + 10 Crockford base32 characters of the instant (milliseconds, so ids sort by
time) + 16 of a SHA-256 over the type and the change's own key (``subject``). An event is written once, with
its change (the change's conditions refuse a second commit); it keeps its id through every redelivery, and
every consumer deduplicates by id.
"""

from __future__ import annotations

import hashlib
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
_DIGEST_CHARS = 16  # 80 bits of the content hash
ID_PREFIX = "evt_"


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def event_id(type_: EventType, subject: str, occurred_at: datetime) -> str:
    """The stable id of the event of ``type_`` about ``subject`` (the change's own key) at ``occurred_at``."""
    millis = int(occurred_at.timestamp() * 1000)
    digest = int.from_bytes(hashlib.sha256(f"{type_.value}|{subject}".encode()).digest()[:10], "big")
    return f"{ID_PREFIX}{_base32(millis, _TIME_CHARS)}{_base32(digest, _DIGEST_CHARS)}"


def event_instant(id_: str) -> datetime:
    """The instant encoded in an event id (to page from it); ValueError when it is no event id."""
    body = id_.removeprefix(ID_PREFIX)
    if not id_.startswith(ID_PREFIX) or len(body) != _TIME_CHARS + _DIGEST_CHARS:
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
    type_: EventType, legal_entity_id: str, occurred_at: datetime, subject: str, data: Mapping[str, Any]
) -> Event:
    """An event of ``type_`` whose ``data`` is checked against the type's schema (ValueError if not);
    ``subject`` is the change's own key (an invoice id, ``<subscription id>:<effective date>``, ...)."""
    if occurred_at.tzinfo is None:
        raise ValueError("an event's instant must carry its time zone")
    return Event(
        event_id(type_, subject, occurred_at),
        type_,
        occurred_at.astimezone(UTC),
        legal_entity_id,
        validate_data(type_, data),
    )
