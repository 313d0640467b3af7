"""S3 → SQS: OCR giro files dropped under ``ocr/``. Records each file's arrival once per object version,
then imports it into the ledger (idempotent by content hash and by each transaction's Nets identity).

A file too big for one invocation is imported until the time runs short; the handler then queues a
continuation message, and the next invocation resumes after the last payment written.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import Services, get_services
from chalicelib.files.inbound import ArrivedFile
from chalicelib.flows.import_ocr_file import Deadline, seconds_left
from chalicelib.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)
CONTINUE = "abo:continue-import"


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    """Import every object an S3 notification announces (or a continuation); S3's test event is ignored."""
    notification = json.loads(record.body)
    if notification.get("Event") == "s3:TestEvent":
        return
    services = get_services()
    deadline: Deadline = (
        seconds_left(lambda_context.get_remaining_time_in_millis) if lambda_context else (lambda: False)
    )
    if notification.get("Event") == CONTINUE:
        _import(services, record, notification["bucket"], notification["key"], notification["etag"], deadline)
        return
    for s3_record in S3Event(notification).records:
        announced = s3_record.s3.get_object
        arrival = services.inbound_files.record_arrival(
            ArrivedFile(
                kind="ocr",
                bucket=s3_record.s3.bucket.name,
                key=unquote_plus(announced.key),
                etag=announced.etag or "",
                size=int(announced.size or 0),
            )
        )
        logger.info("OCR file arrived", extra={"key": arrival.file.key, "new": arrival.new})
        file = arrival.file
        _import(services, record, file.bucket, file.key, file.etag, deadline)


def _import(
    services: Services, record: SQSRecord, bucket: str, key: str, etag: str, deadline: Deadline
) -> None:
    result = services.ocr_imports.import_object(bucket, key, etag, deadline)
    logger.info(
        "OCR file processed",
        extra={
            "key": key,
            "file_id": result.file_id,
            "status": result.status,
            "duplicate": result.duplicate,
            "imported": result.imported,
            "finished": result.finished,
        },
    )
    if not result.finished:
        queue_name = record.event_source_arn.rsplit(":", 1)[-1]
        queue_url = services.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        body = {"Event": CONTINUE, "bucket": bucket, "key": key, "etag": etag}
        services.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process a batch of S3 notifications; failed records are reported, not the whole batch."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
