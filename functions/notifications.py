"""SQS: notices from the flows (orders, the invoice run, payments, changes, AvtaleGiro mandate deletions),
rendered in the customer's language and sent once per message key; a failed send comes back (the key
makes the retry safe)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.notifications.queue import Notice
from chalicelib.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    """Send one notice."""
    notice = Notice.parse(record.body)
    done = get_services().notification_dispatcher.dispatch(notice)
    logger.info(
        "notification",
        extra={
            "message_key": done.key,
            "kind": notice.kind.value,
            "status": done.result.status.value if done.result else "skipped",
            "reason": done.reason,
        },
    )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process a batch of notices."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
