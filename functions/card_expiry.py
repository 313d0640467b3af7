"""Scheduled daily: tell each customer whose saved card (Stripe, active card agreement) expires this month,
once, with the link where they replace it; refreshes the cards of agreements activated or charged lately
first."""

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
    """The run of the moment's business date."""
    report = get_services().card_expiry.run(local_date(moment))
    summary = asdict(report)
    if report.card_payments or report.new_cards or report.due or report.interrupted or report.failed:
        logger.info("card expiry run", extra=summary)
    return summary


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """The scheduled entry point."""
    return run(datetime.fromisoformat(event.time))
