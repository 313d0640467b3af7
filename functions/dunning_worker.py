"""SQS: one work item of the dunning run, a (day, shard) partition of the overdue index; failed items
come back (every action is idempotent, so a redelivery only finishes what was left)."""

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
    """Take every dunning action due in one partition."""
    day, shard, run_date = parse_work_item(record.body)
    services = get_services()
    report = services.dunning.run.work(day, shard, run_date, services.clock.now())
    logger.info(
        "dunning work item done",
        extra={
            "day": day.isoformat(),
            "shard": shard,
            "reminded": len(report.reminded),
            "noticed": len(report.noticed),
            "retried": len(report.retried),
            "handed_over": len(report.handed_over),
            "closed": len(report.closed),
            "moved": report.moved,
            "no_plan": len(report.no_plan),
            "handoff_file": report.handoff_file,
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
