"""Event routes (admin): the recorded events, oldest first (docs/events.md).

Each listed event is ``{id, type, occurred_at, legal_entity_id, data}``; the response schema is one variant
per event type, discriminated by ``type``, whose ``data`` is that type's model in
:mod:`chalicelib.events.catalogue`, so the OpenAPI document shows the same schemas as docs/events.md.
"""

from __future__ import annotations

import functools
import operator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

from chalicelib.api.routing import Call, Reply, Router
from chalicelib.api.schemas import QueryModel, ResponseModel
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.events import MAX_EVENTS_PAGE, EventType, event_instant
from chalicelib.events.catalogue import DATA_MODELS

if TYPE_CHECKING:
    from chalicelib.store.events import EventPage

router = Router("events", tag="events")

DEFAULT_LIMIT = 50
# ``evt_`` + 26 Crockford base32 characters (chalicelib.events.event_id), as the API gives them.
EVENT_ID_PATTERN = r"^evt_[0-9A-HJKMNP-TV-Z]{26}$"


def _event_id(value: str | None) -> str | None:
    """``value`` when it is an event id whose instant is a date (so a page can start from it)."""
    if value is not None:
        event_instant(value)  # ValueError: pydantic names the field in the 422
    return value


class EventsQuery(QueryModel):
    """Which events: of one type and one seller, after an event or continuing a page."""

    type: EventType | None = Field(default=None, description="Only events of this type.")
    after: str | None = Field(
        default=None,
        pattern=EVENT_ID_PATTERN,
        description="Only events after this event id (the last one you handled), in id (= time) order.",
    )
    legal_entity_id: str | None = Field(default=None, max_length=64, description="Only this seller's events.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_EVENTS_PAGE)
    cursor: str | None = Field(
        default=None, pattern=EVENT_ID_PATTERN, description="The previous page's `next_cursor`."
    )

    _ids = field_validator("after", "cursor", mode="after")(_event_id)

    @model_validator(mode="after")
    def _one_start(self) -> EventsQuery:
        if self.after is not None and self.cursor is not None:
            raise ValidationFailedError(
                "send either after or cursor",
                [FieldError("cursor", "after and cursor both say where to start", "conflict", "query")],
            )
        return self


def _view_name(type_: EventType) -> str:
    """``dunning.step_taken`` → ``DunningStepTakenEvent``."""
    words = type_.value.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def _event_view(type_: EventType) -> type[BaseModel]:
    # One model per type: ``type`` is its literal, ``data`` the catalogue's model of that type.
    literal: Any = Literal.__getitem__(type_.value)
    return create_model(
        _view_name(type_),
        __base__=ResponseModel,
        __doc__=DATA_MODELS[type_].__doc__,
        id=(str, Field(pattern=EVENT_ID_PATTERN)),
        type=(literal, ...),
        occurred_at=(datetime, ...),
        legal_entity_id=(str, ...),
        data=(DATA_MODELS[type_], ...),
    )


EVENT_VIEWS: dict[EventType, type[BaseModel]] = {type_: _event_view(type_) for type_ in EventType}
_AnyEvent: Any = Annotated[functools.reduce(operator.or_, EVENT_VIEWS.values()), Field(discriminator="type")]
EventList: type[BaseModel] = create_model(
    "EventList",
    __base__=ResponseModel,
    __doc__="A page of events, oldest first; `next_cursor` continues it (null: no more events yet).",
    items=(list[_AnyEvent], ...),
    next_cursor=(str | None, ...),
)


def event_list(page: EventPage) -> dict[str, Any]:
    """The API's shape of a page of events (:data:`EventList`)."""
    # Not validated against the current catalogue: an event keeps the data it was recorded with.
    return {"items": [event.as_json() for event in page.events], "next_cursor": page.next_after}


@router.route(
    "GET", "/v1/events", summary="Recorded events, oldest first", query=EventsQuery, response=EventList
)
def list_events(call: Call) -> Reply:
    """The events recorded in the retention period, in id (= time) order."""
    query = call.query(EventsQuery)
    page = call.services.event_log.page(
        call.services.clock.now().astimezone(UTC).date(),
        type_=query.type,
        after=query.after or query.cursor,
        legal_entity_id=query.legal_entity_id,
        limit=query.limit,
    )
    return Reply(event_list(page))
