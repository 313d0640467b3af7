"""The events table's stream: each new event handed to its consumers (the one event dispatcher).

Lambda's event-source mapping filters the stream to inserts and retries a failed record with those after it
(``ReportBatchItemFailures``, bisecting); consumers deduplicate, so a redelivery is harmless."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.observability import logger

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    """Dispatch one recorded event."""
    image = record.raw_event["dynamodb"]["NewImage"]
    event = get_services().event_dispatcher.dispatch_stream_image(image)
    logger.info("event dispatched", extra={"event_id": event.id, "type": event.type.value})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Dispatch a batch of stream records; failed ones are reported for redelivery."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
