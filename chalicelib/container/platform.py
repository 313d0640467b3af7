"""The platform's own collaborators: AWS clients, the stores, the clock and the jobs that drive it."""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from chalicelib.clock import Clock, StoredClock, SystemClock, local_date, wall_time
from chalicelib.settings import Settings

CLOCK_FUNCTION = "ClockAdvanceFunction"

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from chalicelib.api.idempotency import IdempotentRequests
    from chalicelib.files.inbound import InboundFiles
    from chalicelib.jobs.runner import QueueDrainer, ScheduleRunner
    from chalicelib.jobs.template import Wiring
    from chalicelib.store.documents import DocumentStore
    from chalicelib.store.events import EventLog
    from chalicelib.store.system import SystemStore
    from chalicelib.system.clock_service import ClockService
    from chalicelib.system.health import HealthService
    from chalicelib.system.heartbeat import HeartbeatService


class PlatformServices:
    """Clients, stores, the clock, the in-process runners, health: each built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One lock per process: the local scheduler thread and the clock route never run jobs at once.
        self.job_lock = threading.Lock()
        from chalicelib.store.base import bind_tables

        bind_tables(settings)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(service, region_name=self.settings.region)  # type: ignore[call-overload]

    @cached_property
    def s3(self) -> S3Client:
        """S3 client (endpoint from ``AWS_ENDPOINT_URL_*`` when local)."""
        client: S3Client = self._client("s3")
        return client

    @cached_property
    def sqs(self) -> SQSClient:
        """SQS client."""
        client: SQSClient = self._client("sqs")
        return client

    @cached_property
    def ses(self) -> Any:
        """SES client (e-mail)."""
        return self._client("ses")

    @cached_property
    def sns(self) -> Any:
        """SNS client (SMS)."""
        return self._client("sns")

    @cached_property
    def event_log(self) -> EventLog:
        """The recorded events, for ``GET /v1/events``."""
        from chalicelib.store.events import EventLog

        return EventLog()

    @cached_property
    def system_store(self) -> SystemStore:
        """The platform's bookkeeping items."""
        from chalicelib.store.system import SystemStore

        return SystemStore()

    @cached_property
    def stored_clock(self) -> StoredClock:
        """The test clock (not used in production)."""
        return StoredClock(
            store=self.system_store,
            start=self.settings.clock_start,
            start_frozen=self.settings.clock_frozen,
        )

    @cached_property
    def clock(self) -> Clock:
        """The one clock: system time in production, the stored test clock elsewhere."""
        if self.settings.is_production or self.settings.clock_mode == "system":
            return SystemClock()
        return self.stored_clock

    @cached_property
    def wiring(self) -> Wiring:
        """What template.yaml wires to handlers."""
        from chalicelib.jobs.template import load_template, read_wiring

        return read_wiring(load_template(self.settings.template_path), self.settings.stack_name)

    @cached_property
    def drainer(self) -> QueueDrainer:
        """Runs queued work in process."""
        from chalicelib.jobs.runner import QueueDrainer
        from chalicelib.jobs.streams import StreamPump
        from chalicelib.store.transaction import puts_committed

        drainer = QueueDrainer(self.sqs, self.wiring, self.settings.region)
        for stream in self.wiring.streams:
            failures = stream.on_failure_queue_name
            drainer.pumps.append(
                StreamPump(
                    self._client("dynamodbstreams"),
                    self.sqs,
                    stream,
                    self.settings.region,
                    partial(puts_committed, stream.table_name),
                    self.sqs.get_queue_url(QueueName=failures)["QueueUrl"] if failures else None,
                )
            )
        return drainer

    def schedule_runner(self) -> ScheduleRunner:
        """Runs scheduled moments in process."""
        from chalicelib.jobs.runner import ScheduleRunner

        return ScheduleRunner(
            self.wiring, self.drainer, self.settings.region, exclude_from_drain=frozenset({CLOCK_FUNCTION})
        )

    @cached_property
    def clock_service(self) -> ClockService:
        """The test clock's service."""
        from chalicelib.system.clock_service import ClockAdvanceQueue, ClockService

        url = self.settings.clock_queue_url
        queue = ClockAdvanceQueue(self.sqs, url) if url else None
        return ClockService(
            self.stored_clock, self.system_store, self.schedule_runner, self.job_lock, queue=queue
        )

    @cached_property
    def health(self) -> HealthService:
        """Health checks."""
        from chalicelib.store.due import WATCHED_RUNS, earliest_due
        from chalicelib.system.health import HealthService

        return HealthService(
            heartbeats=self.system_store,
            stage=self.settings.stage,
            stale_after=timedelta(seconds=self.settings.heartbeat_stale_seconds),
            wall=wall_time,
            earliest_due=earliest_due,
            business_date=lambda: local_date(self.clock.now()),
            watched_runs=WATCHED_RUNS,
        )

    @cached_property
    def heartbeat(self) -> HeartbeatService:
        """The scheduler heartbeat."""
        from chalicelib.system.heartbeat import HeartbeatService

        return HeartbeatService(writer=self.system_store, wall=wall_time)

    @cached_property
    def inbound_files(self) -> InboundFiles:
        """Arrival records of files dropped in the bucket."""
        from chalicelib.files.inbound import InboundFiles

        return InboundFiles(self.clock)

    @cached_property
    def documents(self) -> DocumentStore:
        """Typed documents in the main table."""
        from chalicelib.store.documents import DocumentStore

        return DocumentStore()

    @cached_property
    def idempotency(self) -> IdempotentRequests:
        """Idempotent POSTs (Powertools idempotency on DynamoDB)."""
        from chalicelib.api.idempotency import IdempotentRequests

        return IdempotentRequests(self.settings.idempotency_table, self.settings.idempotency_ttl_seconds)
