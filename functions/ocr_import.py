"""S3 → SQS: OCR giro files dropped under ``ocr/``. Records each file's arrival once per object version;
the import itself (parsing, matching by KID, ledger payments) builds on this record."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from chalicelib.container import get_services
from chalicelib.files.inbound import ArrivedFile
from chalicelib.observability import logger

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    """Record every object an S3 notification announces; S3's test event is ignored."""
    notification = json.loads(record.body)
    if notification.get("Event") == "s3:TestEvent":
        return
    inbound = get_services().inbound_files
    for s3_record in S3Event(notification).records:
        announced = s3_record.s3.get_object
        arrival = inbound.record_arrival(
            ArrivedFile(
                kind="ocr",
                bucket=s3_record.s3.bucket.name,
                key=unquote_plus(announced.key),
                etag=announced.etag or "",
                size=int(announced.size or 0),
            )
        )
        logger.info("OCR file arrived", extra={"key": arrival.file.key, "new": arrival.new})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process a batch of S3 notifications; failed records are reported, not the whole batch."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
