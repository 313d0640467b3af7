"""The test clock (every stage but production): read it, or move it forward and run what falls due."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from chalicelib.api.routing import Call, Reply, Router
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.clock import start_of_local_day
from chalicelib.errors import NotFoundError
from chalicelib.system.clock_service import ClockReading

router = Router("test_clock", tag="test clock")


class ClockView(ResponseModel):
    """The platform's current time; while an advance is under way, where it is going."""

    now: datetime
    frozen: bool
    status: Literal["ready", "advancing"] = Field(
        description="advancing: the scheduled work of an advance is still running; ready: it is done"
    )
    advancing_to: datetime | None = Field(default=None, description="the target of the advance under way")


class AdvanceClock(RequestModel):
    """Where to move the clock: an instant with offset, or a date (its start in Europe/Oslo)."""

    advance_to: AwareDatetime | date = Field(
        description="ISO 8601 instant with offset, or a date meaning 00:00 Europe/Oslo that day"
    )
    frozen: bool | None = Field(
        default=None, description="true: the clock stands still afterwards; false: it runs with wall time"
    )


def _view(reading: ClockReading) -> ClockView:
    return ClockView(
        now=reading.now,
        frozen=reading.frozen,
        status="advancing" if reading.advancing_to is not None else "ready",
        advancing_to=reading.advancing_to,
    )


def _refuse_in_production(call: Call) -> None:
    if call.services.settings.is_production:
        raise NotFoundError("there is no test clock in production")


@router.route("GET", "/v1/test/clock", summary="Read the test clock", response=ClockView, problems=(404,))
def read_clock(call: Call) -> ClockView:
    """The platform time, and whether an advance is still running."""
    _refuse_in_production(call)
    return _view(call.services.clock_service.read())


@router.route(
    "POST",
    "/v1/test/clock",
    summary="Advance the test clock; every job that falls due runs asynchronously",
    body=AdvanceClock,
    response=ClockView,
    status=202,
    problems=(404, 409),
)
def advance_clock(call: Call) -> Reply:
    """Move forward (never back). ``202`` while the resulting work runs on the clock-advance function
    (``GET`` shows ``advancing`` until it is ``ready``); ``200`` where it ran in the request itself."""
    _refuse_in_production(call)
    request = call.body(AdvanceClock)
    target = request.advance_to
    instant = target if isinstance(target, datetime) else start_of_local_day(target)
    view = _view(call.services.clock_service.request_advance(instant, request.frozen))
    return Reply(view, status=202 if view.status == "advancing" else 200)
