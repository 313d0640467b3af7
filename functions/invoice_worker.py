"""SQS: one work item of the invoice run, a (renewal date, shard) partition; failed items come back."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.jobs.work_items import parse_work_item
from chalicelib.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    """Issue everything due in one partition."""
    day, shard, run_date = parse_work_item(record.body)
    services = get_services()
    report = services.invoice_run.work(day, shard, run_date, services.clock.now())
    if report.issued or report.closed:
        logger.info(
            "invoices issued",
            extra={
                "day": day.isoformat(),
                "shard": shard,
                "issued": len(report.issued),
                "skipped": report.skipped,
                "closed": report.closed,
            },
        )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process a batch of work items."""
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
