"""Running what template.yaml wires, in process: scheduled handlers for each moment passed, and the
queues they fan out to, drained until all resulting work has settled.

The test clock uses this in every stage but production; the local stack also uses the drainer as its
SQS event-source mapping. Handlers get exactly the events AWS would give them.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.errors import UnavailableError
from chalicelib.jobs.schedule import parse_schedule
from chalicelib.jobs.template import QueueWiring, ScheduleWiring, Wiring
from chalicelib.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_MOMENTS_PER_ADVANCE = 50_000
_EVENT_NAMESPACE = uuid.UUID("6f1c7d0e-3c1b-4f0e-9d7e-6a0b1c2d3e4f")


@dataclass
class InvocationContext:
    """The parts of a Lambda context that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_seconds: float = 900.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (simulated) timeout."""
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def invoke_handler(handler_path: str, event: dict[str, Any], function_name: str) -> Any:
    """Import ``module.attr`` as Lambda would and call it with ``event``."""
    module_name, _, attribute = handler_path.rpartition(".")
    handler: Callable[[dict[str, Any], Any], Any] = getattr(importlib.import_module(module_name), attribute)
    return handler(event, InvocationContext(function_name=function_name))


def scheduled_event(schedule: ScheduleWiring, moment: datetime, region: str, account: str) -> dict[str, Any]:
    """The EventBridge ``Scheduled Event`` for one moment of a schedule; its id is deterministic."""
    when = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid5(_EVENT_NAMESPACE, f"{schedule.name}|{when}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": when,
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{schedule.name}"],
        "detail": {},
    }


class QueueDrainer:
    """Feeds queued messages to their consumers like Lambda's SQS event-source mapping does."""

    def __init__(
        self,
        sqs: SQSClient,
        wiring: Wiring,
        region: str,
        settle_timeout_seconds: float = 120.0,
    ) -> None:
        self._sqs = sqs
        self._wiring = wiring
        self._region = region
        self._settle_timeout = settle_timeout_seconds
        self._urls: dict[str, tuple[str, str]] = {}

    def _queue(self, consumer: QueueWiring) -> tuple[str, str]:
        if consumer.queue_name not in self._urls:
            url = self._sqs.get_queue_url(QueueName=consumer.queue_name)["QueueUrl"]
            arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            self._urls[consumer.queue_name] = (url, arn)
        return self._urls[consumer.queue_name]

    def poll_once(self, consumer: QueueWiring, wait_seconds: int = 0) -> int:
        """Receive up to ten messages for ``consumer`` and invoke it on batches of its batch size, as Lambda's
        poller does; delete what succeeded, release what failed; returns messages seen."""
        url, arn = self._queue(consumer)
        # One receive for ten messages even when the batch size is 1: a sharded run's sixteen work items
        # cost two receives, not sixteen.
        received = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages", [])
        size = max(1, min(consumer.batch_size, 10))
        done: list[Any] = []
        for start in range(0, len(messages), size):
            done += self._invoke(consumer, url, arn, messages[start : start + size])
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)

    def _invoke(self, consumer: QueueWiring, url: str, arn: str, messages: list[Any]) -> list[Any]:
        """One invocation on ``messages``; failed ones are released at once, the rest returned."""
        event = {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": message.get("MessageAttributes", {}),
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": self._region,
                }
                for message in messages
            ]
        }
        failed: set[str] = set()
        try:
            result = invoke_handler(consumer.handler, event, consumer.function)
            if isinstance(result, dict):
                failed = {str(item["itemIdentifier"]) for item in result.get("batchItemFailures", [])}
        except Exception:
            # A crashed invocation fails the whole batch, as in Lambda; the messages come back.
            logger.exception("queue consumer failed", extra={"function": consumer.function})
            failed = {message["MessageId"] for message in messages}
        for message in messages:
            if message["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        return [m for m in messages if m["MessageId"] not in failed]

    def _outstanding(self, consumer: QueueWiring) -> int:
        url, _ = self._queue(consumer)
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def drain(self) -> int:
        """Process every queue until none holds a message, in flight or waiting; returns messages seen."""
        deadline = time.monotonic() + self._settle_timeout
        seen = 0
        while True:
            progressed = 0
            for consumer in self._wiring.queues:
                progressed += self.poll_once(consumer)
            seen += progressed
            if progressed == 0:
                if all(self._outstanding(consumer) == 0 for consumer in self._wiring.queues):
                    return seen
                time.sleep(0.05)  # another consumer holds messages in flight
            if time.monotonic() > deadline:
                raise UnavailableError("queued work did not settle in time")


class ScheduleCursorStore(Protocol):
    """Where the last moment run for each schedule is kept."""

    def schedule_cursor(self, schedule: str) -> datetime | None:
        """The last moment run, if any."""
        ...

    def set_schedule_cursor(self, schedule: str, moment: datetime) -> None:
        """Record that ``moment`` has run."""
        ...


@dataclass(frozen=True)
class ScheduledRun:
    """One scheduled moment that was run."""

    schedule: str
    function: str
    moment: datetime


class ScheduleRunner:
    """Runs each schedule of template.yaml for every moment passed, in time order, settling after each."""

    def __init__(
        self,
        wiring: Wiring,
        cursors: ScheduleCursorStore,
        drainer: QueueDrainer,
        region: str,
        account: str = "123456789012",
        lock: threading.Lock | None = None,
    ) -> None:
        self._wiring = wiring
        self._cursors = cursors
        self._drainer = drainer
        self._region = region
        self._account = account
        self._lock = lock or threading.Lock()

    def run_until(self, until: datetime, since: datetime) -> list[ScheduledRun]:
        """Run every moment in ``(cursor, until]``; a schedule never run before starts at ``since``."""
        with self._lock:
            pending: list[tuple[datetime, int, ScheduleWiring]] = []
            for order, schedule in enumerate(self._wiring.schedules):
                cursor = self._cursors.schedule_cursor(schedule.name)
                if cursor is None:
                    cursor = since
                    self._cursors.set_schedule_cursor(schedule.name, since)
                expression = parse_schedule(schedule.expression)
                if schedule.catch_up == "latest":
                    latest = expression.latest_between(cursor, until)
                    pending.extend([(latest, order, schedule)] if latest else [])
                    continue
                for moment in expression.moments_between(cursor, until):
                    pending.append((moment, order, schedule))
                    if len(pending) > MAX_MOMENTS_PER_ADVANCE:
                        raise UnavailableError(
                            f"more than {MAX_MOMENTS_PER_ADVANCE} scheduled moments; advance in smaller steps"
                        )
            pending.sort(key=lambda entry: (entry[0], entry[1]))
            runs: list[ScheduledRun] = []
            for moment, _, schedule in pending:
                event = scheduled_event(schedule, moment, self._region, self._account)
                invoke_handler(schedule.handler, event, schedule.function)
                self._drainer.drain()
                self._cursors.set_schedule_cursor(schedule.name, moment)
                runs.append(ScheduledRun(schedule.name, schedule.function, moment))
            return runs
