"""The dunning run's planner, apart from the run itself: the scheduled function imports only this (the
worker's whole stack is not needed to read the due index and queue work items)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from chalicelib.jobs.work_items import queue_work_items
from chalicelib.store.due import DUNNING_RUN, due_partitions

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def plan_dunning_run(sqs: SQSClient, queue_url: str, run_date: date) -> int:
    """Queue a work item per (day, shard) of the overdue index with a step due on or before ``run_date``
    (one query of the due index, so a missed day is caught up); returns how many were queued."""
    return queue_work_items(sqs, queue_url, due_partitions(DUNNING_RUN, run_date), run_date)
