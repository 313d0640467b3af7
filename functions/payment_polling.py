"""Scheduled every 15 minutes: reconcile pending agreements, open charges and refunds with the providers
(Vipps asks for webhooks *and* polling), within a bounded number of provider calls per run."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.observability import logger


def run() -> dict[str, Any]:
    """One bounded reconciliation pass."""
    report = get_services().payment_flows.polling.poll()
    summary = asdict(report)
    if report.setups or report.charges or report.refunds or report.interrupted:
        logger.info("payments polled", extra=summary)
    return summary


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    """The scheduled entry point."""
    return run()
