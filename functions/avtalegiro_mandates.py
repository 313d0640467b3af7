"""S3 → SQS: Nets' AvtaleGiro mandate files dropped under ``avtalegiro/mandates/``. Each file is imported
once (by content hash); every mandate switches the agreements and subscriptions its KID names."""

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
    """Import every mandate file an S3 notification announces; S3's test event is ignored."""
    notification = json.loads(record.body)
    if notification.get("Event") == "s3:TestEvent":
        return
    services = get_services()
    mandates = services.avtalegiro.mandates
    for s3_record in S3Event(notification).records:
        announced = s3_record.s3.get_object
        arrival = services.inbound_files.record_arrival(
            ArrivedFile(
                kind="avtalegiro_mandates",
                bucket=s3_record.s3.bucket.name,
                key=unquote_plus(announced.key),
                etag=announced.etag or "",
                size=int(announced.size or 0),
            )
        )
        file = arrival.file
        result = mandates.import_object(file.bucket, file.key, file.etag)
        logger.info(
            "AvtaleGiro mandate file processed",
            extra={
                "key": file.key,
                "file_id": result.file_id,
                "duplicate": result.duplicate,
                "mandates": result.mandates,
                "linked": result.linked,
                "unknown_kids": len(result.unknown_kids),
            },
        )


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process a batch of S3 notifications; failed records are reported, not the whole batch."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
