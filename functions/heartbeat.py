"""Scheduled: records that the scheduler fired, so that /health can tell the scheduler is up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.observability import logger


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """Record one heartbeat for the scheduled moment."""
    moment = datetime.fromisoformat(event.time)
    beat_at = get_services().heartbeat.beat(moment, source=event.source)
    return {"moment": moment.isoformat(), "beat_at": beat_at.isoformat()}
