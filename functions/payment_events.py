"""SQS: queued Vipps and Stripe webhooks. Each is a signal: the agreement or charge it names is fetched
from the provider and applied; duplicates and reordered events change nothing. Failed items come back."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    """Act on one event."""
    message: dict[str, Any] = json.loads(record.body)
    outcome = get_services().payment_flows.webhook.process_event(message)
    logger.info(
        "payment event processed",
        extra={"event_id": message.get("event_id"), "event_type": message.get("event_type"), "as": outcome},
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process a batch of events."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
