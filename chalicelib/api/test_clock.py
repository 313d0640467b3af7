"""The test clock (every stage but production): read it, or move it forward and run what falls due."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, Field

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.clock import start_of_local_day
from chalicelib.errors import NotFoundError

router = Router("test_clock", tag="test clock")


class ClockView(ResponseModel):
    """The platform's current time."""

    now: datetime
    frozen: bool


class AdvanceClock(RequestModel):
    """Where to move the clock: an instant with offset, or a date (its start in Europe/Oslo)."""

    advance_to: AwareDatetime | date = Field(
        description="ISO 8601 instant with offset, or a date meaning 00:00 Europe/Oslo that day"
    )
    frozen: bool | None = Field(
        default=None, description="true: the clock stands still afterwards; false: it runs with wall time"
    )


class ScheduledRunView(ResponseModel):
    """One scheduled moment that ran."""

    schedule: str
    function: str
    moment: datetime


class AdvancedClock(ResponseModel):
    """The clock after moving, and every scheduled moment that ran, in order."""

    now: datetime
    frozen: bool
    runs: list[ScheduledRunView]


def _refuse_in_production(call: Call) -> None:
    if call.services.settings.is_production:
        raise NotFoundError("there is no test clock in production")


@router.route("GET", "/v1/test/clock", summary="Read the test clock", response=ClockView, problems=(404,))
def read_clock(call: Call) -> ClockView:
    """The platform time."""
    _refuse_in_production(call)
    reading = call.services.clock_service.read()
    return ClockView(now=reading.now, frozen=reading.frozen)


@router.route(
    "POST",
    "/v1/test/clock",
    summary="Advance the test clock and run every job that falls due",
    body=AdvanceClock,
    response=AdvancedClock,
    problems=(404, 409),
)
def advance_clock(call: Call) -> AdvancedClock:
    """Move forward (never back) and return when all resulting work has settled."""
    _refuse_in_production(call)
    request = call.body(AdvanceClock)
    target = request.advance_to
    instant = target if isinstance(target, datetime) else start_of_local_day(target)
    result = call.services.clock_service.advance(instant, request.frozen)
    return AdvancedClock(
        now=result.now,
        frozen=result.frozen,
        runs=[
            ScheduledRunView(schedule=r.schedule, function=r.function, moment=r.moment) for r in result.runs
        ],
    )
