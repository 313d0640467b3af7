"""SQS: work a test-clock advance (every stage but production), day by day, and queue the rest of it again
before the function's own timeout; ``GET /v1/test/clock`` shows ``advancing`` until it is done."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.observability import logger
from chalicelib.system.clock_service import remaining_deadline

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """Run the advance under way (the message only wakes the function: the target is stored)."""
    services = get_services()
    if services.settings.is_production:
        logger.warning("a clock advance was queued in production; there is no test clock here")
        return
    deadline = remaining_deadline(lambda_context.get_remaining_time_in_millis())
    result = services.clock_service.work_queued_advance(deadline)
    logger.info(
        "clock advanced",
        extra={"now": result.now.isoformat(), "moments": len(result.runs), "complete": result.complete},
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Work the queued advance (batch size 1)."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
