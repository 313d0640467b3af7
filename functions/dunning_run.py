"""Scheduled daily: plan the dunning run for the business date from the due index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.clock import local_date
from chalicelib.container import get_services
from chalicelib.dunning.planning import plan_dunning_run
from chalicelib.observability import logger


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """Queue the run's work items for the business date of the scheduled moment."""
    # The platform's (Oslo's) date; the worker moves it to each seller's own date (docs/billing.md 1.1).
    run_date = local_date(datetime.fromisoformat(event.time))
    services = get_services()
    queued = plan_dunning_run(services.sqs, services.settings.dunning_queue_url, run_date)
    logger.info("dunning run planned", extra={"run_date": run_date.isoformat(), "work_items": queued})
    return {"run_date": run_date.isoformat(), "work_items": queued}
