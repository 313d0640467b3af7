"""SQS: rebuild the drafts of one page of a plan's subscriptions after a price change, then queue the next."""

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
    """One page of one plan."""
    message = json.loads(record.body)
    next_cursor = get_services().drafts.rebuild_plan_page(str(message["plan_id"]), message.get("cursor"))
    logger.info("plan drafts rebuilt", extra={"plan_id": message["plan_id"], "more": next_cursor is not None})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process a batch; failed records come back."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
