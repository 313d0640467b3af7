"""The work items a sharded run's planner queues: one per (index day, shard) holding work, for the run's
business date. One shape for every run, queued ten to a request and read back by the run's workers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

_BATCH = 10  # SQS's SendMessageBatch limit


def queue_work_items(
    sqs: SQSClient, queue_url: str, partitions: Iterable[tuple[date, int]], run_date: date
) -> int:
    """Queue a work item per (day, shard) of ``partitions`` for ``run_date``; returns how many."""
    items = [
        {"day": day.isoformat(), "shard": shard, "run_date": run_date.isoformat()}
        for day, shard in partitions
    ]
    for start in range(0, len(items), _BATCH):
        chunk = items[start : start + _BATCH]
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": json.dumps(item)} for i, item in enumerate(chunk)],
        )
    return len(items)


def parse_work_item(body: str) -> tuple[date, int, date]:
    """(index day, shard, run date) from a queued work item."""
    message: Mapping[str, Any] = json.loads(body)
    return date.fromisoformat(message["day"]), int(message["shard"]), date.fromisoformat(message["run_date"])
