"""Scheduled daily (before the 14:00 Oslo cut-off): the day's AvtaleGiro claim file, then the day's
deletion file. Both are idempotent per day and crash-safe; a rerun finishes what a crash left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.errors import NotFoundError
from chalicelib.observability import logger


def run(moment: datetime) -> dict[str, Any]:
    """Build the claim and deletion files for the moment the schedule fired."""
    avtalegiro = get_services().avtalegiro
    try:
        avtalegiro.claims.config()
    except NotFoundError:
        # A seller without an AvtaleGiro agreement has nothing to claim: not an error every day.
        logger.info("AvtaleGiro is not configured; no files built")
        return {"skipped": "not configured"}
    claims = avtalegiro.claims.run(moment)
    deletions = avtalegiro.deletions.run(moment)
    summary = {
        "day": claims.submission.day.isoformat(),
        "claims": {
            "status": claims.submission.status.value,
            "lines": claims.submission.claims,
            "key": claims.submission.key,
            "added": claims.added,
        },
        "deletions": {
            "status": deletions.submission.status.value,
            "lines": deletions.submission.claims,
            "key": deletions.submission.key,
            "added": deletions.added,
        },
    }
    logger.info("AvtaleGiro files built", extra=summary)
    return summary


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """The scheduled entry point."""
    return run(datetime.fromisoformat(event.time))
