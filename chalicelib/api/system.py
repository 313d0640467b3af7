"""Platform routes: health and the OpenAPI document."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import ResponseModel

router = Router("system", tag="system")


class Health(ResponseModel):
    """The platform is up."""

    status: str
    stage: str
    storage: str
    scheduler: str
    last_heartbeat: datetime
    runs: dict[str, str] = Field(
        description="each daily run: ok, or late since the day its oldest undone work fell due"
    )


@router.route(
    "GET",
    "/health",
    summary="Health of the API, storage and scheduler",
    auth="public",
    response=Health,
    problems=(503,),
)
def health(call: Call) -> Health:
    """200 when the API, storage and scheduler are up; 503 problem otherwise."""
    report = call.services.health.check()
    runs = {run: "ok" if day is None else f"late since {day.isoformat()}" for run, day in report.runs.items()}
    return Health(
        status="ok",
        stage=report.stage,
        storage="ok",
        scheduler="ok",
        last_heartbeat=report.last_heartbeat,
        runs=runs,
    )
