"""Running what template.yaml wires, in process: scheduled handlers for each moment passed, and the
queues they fan out to, drained until all resulting work has settled.

The test clock uses this in every stage but production; the local stack also uses the drainer as its
SQS event-source mapping. Handlers get exactly the events AWS would give them.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.clock import pinned_time
from chalicelib.errors import UnavailableError
from chalicelib.jobs import invocation
from chalicelib.jobs.schedule import parse_schedule
from chalicelib.jobs.streams import StreamPump
from chalicelib.jobs.template import QueueWiring, ScheduleWiring, Wiring
from chalicelib.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

MAX_MOMENTS_PER_ADVANCE = 50_000
_EVENT_NAMESPACE = uuid.UUID("6f1c7d0e-3c1b-4f0e-9d7e-6a0b1c2d3e4f")


def scheduled_event(schedule: ScheduleWiring, moment: datetime, region: str, account: str) -> dict[str, Any]:
    """The EventBridge ``Scheduled Event`` for one moment of a schedule; its id is deterministic."""
    when = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid5(_EVENT_NAMESPACE, f"{schedule.key}|{when}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": when,
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{schedule.name}"],
        "detail": {},
    }


class QueueDrainer:
    """Feeds queued messages to their consumers like Lambda's SQS event-source mapping does, and the
    events table's stream to the dispatcher (:class:`StreamPump`), until all work has settled."""

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
        # Messages this process sent since the queues were last seen empty: a scheduled moment that queued
        # nothing is settled without asking SQS (an empty day costs no receive).
        self._sent = 0
        self._sent_lock = threading.Lock()
        self.pumps: list[StreamPump] = []
        for operation in ("SendMessage", "SendMessageBatch"):
            sqs.meta.events.register(f"after-call.sqs.{operation}", self._count_sent)

    def _count_sent(self, **_: Any) -> None:
        with self._sent_lock:
            self._sent += 1

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
            result = invocation.invoke_handler(consumer.handler, event, consumer.function)
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

    def drain_if_sent(self, exclude: frozenset[str] = frozenset()) -> int:
        """:meth:`drain`, unless this process has sent no message since the queues were last settled."""
        with self._sent_lock:
            if self._sent == 0 and not any(pump.pending() for pump in self.pumps):
                return 0
        return self.drain(exclude)

    def drain(self, exclude: frozenset[str] = frozenset()) -> int:
        """Process every queue (but those of the functions in ``exclude``) until none holds a message, in
        flight or waiting; returns messages seen."""
        deadline = time.monotonic() + self._settle_timeout
        consumers = [consumer for consumer in self._wiring.queues if consumer.function not in exclude]
        seen = 0
        while True:
            with self._sent_lock:
                self._sent = 0  # what is sent from here on is seen by this loop or counted again
            progressed = 0
            for pump in self.pumps:
                if pump.wiring.function not in exclude:
                    progressed += pump.pump_if_pending()
            for consumer in consumers:
                progressed += self.poll_once(consumer)
            seen += progressed
            if progressed == 0:
                if all(self._outstanding(consumer) == 0 for consumer in consumers):
                    return seen
                time.sleep(0.05)  # another consumer holds messages in flight
            if time.monotonic() > deadline:
                raise UnavailableError("queued work did not settle in time")


@dataclass(frozen=True)
class ScheduledRun:
    """One scheduled moment that was run."""

    schedule: str
    function: str
    moment: datetime


@dataclass
class RunProgress:
    """The moments run by one call, and whether every moment up to its end was run."""

    runs: list[ScheduledRun] = field(default_factory=list)
    complete: bool = True


class ScheduleRunner:
    """Runs each schedule of template.yaml for every moment passed, in time order, settling after each.

    The caller keeps the cursors (the last moment run per schedule) and stores them; this only moves them."""

    def __init__(
        self,
        wiring: Wiring,
        drainer: QueueDrainer,
        region: str,
        account: str = "123456789012",
        lock: threading.Lock | None = None,
        exclude_from_drain: frozenset[str] = frozenset(),
    ) -> None:
        self._wiring = wiring
        self._drainer = drainer
        self._region = region
        self._account = account
        self._lock = lock or threading.Lock()
        # The function that runs this runner (the test clock's advance) must not wait for its own message.
        self._exclude = exclude_from_drain

    def due_moments(
        self, until: datetime, since: datetime, cursors: dict[str, datetime]
    ) -> list[tuple[datetime, ScheduleWiring]]:
        """Every moment in ``(cursor, until]`` in time order; a schedule never run before starts at ``since``
        (its cursor is set to ``since``)."""
        pending: list[tuple[datetime, int, ScheduleWiring]] = []
        for order, schedule in enumerate(self._wiring.schedules):
            cursor = cursors.setdefault(schedule.key, since)
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
        return [(moment, schedule) for moment, _, schedule in pending]

    def run_until(
        self,
        until: datetime,
        since: datetime,
        cursors: dict[str, datetime],
        deadline: float | None = None,
    ) -> RunProgress:
        """Run every due moment up to ``until`` and move ``cursors`` past each; stops early (incomplete)
        once ``deadline`` (a ``time.monotonic()`` value) has passed."""
        with self._lock:
            progress = RunProgress()
            for moment, schedule in self.due_moments(until, since, cursors):
                if deadline is not None and time.monotonic() > deadline:
                    progress.complete = False
                    return progress
                event = scheduled_event(schedule, moment, self._region, self._account)
                with pinned_time(moment):
                    invocation.invoke_handler(schedule.handler, event, schedule.function)
                    self._drainer.drain_if_sent(exclude=self._exclude)
                cursors[schedule.key] = moment
                progress.runs.append(ScheduledRun(schedule.name, schedule.function, moment))
            return progress
