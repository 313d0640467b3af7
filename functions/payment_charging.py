"""Scheduled daily: create the provider charge of every Vipps and card invoice whose charge date has come
(Vipps two days before the due date, cards on it), each exactly once, then charge again the declined cards
dunning asked to retry that day; crash-safe and rerunnable."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.clock import local_date
from chalicelib.container import get_services
from chalicelib.observability import logger


def run(moment: datetime) -> dict[str, Any]:
    """Charge what is due on the moment's business date, then the card retries due that day."""
    charging = get_services().payment_flows.charging
    # One date for the platform: at 05:00 UTC it is this date in every zone from UTC-5 eastwards
    # (docs/billing.md 1.1).
    day = local_date(moment)
    charged, retried = charging.charge_all_due(day)
    summary = asdict(charged)
    summary["retries"] = asdict(retried)
    logger.info("payment charges created", extra=summary)
    return summary


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """The scheduled entry point."""
    return run(datetime.fromisoformat(event.time))
