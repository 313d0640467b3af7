"""Running what template.yaml wires, in process: scheduled handlers for each moment passed, and the
queues they fan out to, drained until all resulting work has settled.

The test clock uses this in every stage but production; the local stack also uses the drainer as its
SQS event-source mapping. Handlers get exactly the events AWS would give them.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.clock import pinned_time
from chalicelib.errors import UnavailableError
from chalicelib.jobs.schedule import parse_schedule
from chalicelib.jobs.template import QueueWiring, ScheduleWiring, StreamWiring, Wiring
from chalicelib.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
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
        "id": str(uuid.uuid5(_EVENT_NAMESPACE, f"{schedule.key}|{when}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": when,
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{schedule.name}"],
        "detail": {},
    }


class StreamPump:
    """Feeds a table stream's records to its consumer as Lambda's DynamoDB event-source mapping does: in
    order, in batches, only the event names the filter lets through; a failed record is retried (with
    those after it) until the mapping's ``MaximumRetryAttempts``, then its batch goes to the on-failure
    queue and the stream moves on. Reads the stream only when this process has put items into the table
    since the last read, so an idle pump costs no request."""

    def __init__(
        self,
        streams: DynamoDBStreamsClient,
        sqs: SQSClient,
        wiring: StreamWiring,
        region: str,
        writes_seen: Callable[[], int],
        failure_queue_url: str | None = None,
    ) -> None:
        self._streams = streams
        self._sqs = sqs
        self.wiring = wiring
        self._region = region
        self._failure_queue_url = failure_queue_url
        # How many items this process has put into the table (store.transaction.puts_committed).
        self._writes_seen = writes_seen
        self._lock = threading.Lock()
        self._stream_arn = ""
        self._positions: dict[str, str | None] = {}  # shard id → last sequence number handled
        self._seen_puts = -1
        self._attempts = 0  # failed attempts of the record at the head of the stream

    def pending(self) -> bool:
        """Whether items were put into the table since the stream was last read."""
        return self._writes_seen() != self._seen_puts

    def skip_to_latest(self) -> None:
        """Treat everything in the stream now as handled (after a restore put old items back)."""
        with self._lock:
            for shard in self._shards():
                self._positions[shard] = None
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard, ShardIteratorType="LATEST"
                )["ShardIterator"]
                records = self._streams.get_records(ShardIterator=iterator, Limit=1).get("Records", [])
                if records:
                    self._positions[shard] = records[-1]["dynamodb"]["SequenceNumber"]
            self._mark_all_read()

    def pump_if_pending(self) -> int:
        """:meth:`pump` when :meth:`pending`; records handed to the consumer."""
        return self.pump() if self.pending() else 0

    def pump(self) -> int:
        """Hand every record in the stream not yet handled to the consumer; returns how many."""
        with self._lock:
            mark = self._writes_seen()
            handed = sum(self._pump_shard(shard) for shard in self._shards())
            self._seen_puts = mark
            return handed

    def _mark_all_read(self) -> None:
        self._seen_puts = self._writes_seen()

    def _shards(self) -> list[str]:
        if not self._stream_arn:
            listed = self._streams.list_streams(TableName=self.wiring.table_name)["Streams"]
            self._stream_arn = str(listed[-1]["StreamArn"])  # the latest: a table has one enabled stream
        if not self._positions:
            description = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
            self._positions = {str(shard["ShardId"]): None for shard in description.get("Shards", [])}
        return list(self._positions)

    def _pump_shard(self, shard: str) -> int:
        handed = 0
        while True:
            position = self._positions[shard]
            if position:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn,
                    ShardId=shard,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=position,
                )["ShardIterator"]
            else:
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            records = self._streams.get_records(ShardIterator=iterator, Limit=self.wiring.batch_size).get(
                "Records", []
            )
            if not records:
                return handed
            wanted = [
                r for r in records if not self.wiring.event_names or r["eventName"] in self.wiring.event_names
            ]
            done_through = self._deliver(wanted) if wanted else None
            if done_through is None:
                self._positions[shard] = records[-1]["dynamodb"]["SequenceNumber"]
                handed += len(wanted)
            else:
                self._positions[shard] = done_through

    def _deliver(self, records: list[Any]) -> str | None:
        """Invoke the consumer on ``records``; None when all succeeded, else the sequence number up to which
        the stream may move (before the first failure, or past the batch once it is given up on)."""
        event = {"Records": [self._lambda_record(r) for r in records]}
        try:
            result = invoke_handler(self.wiring.handler, event, self.wiring.function)
            failures = [str(item["itemIdentifier"]) for item in (result or {}).get("batchItemFailures", [])]
        except Exception:
            logger.exception("stream consumer failed", extra={"function": self.wiring.function})
            failures = [str(records[0]["dynamodb"]["SequenceNumber"])]
        if not failures:
            self._attempts = 0
            return None
        first_failed = min(failures, key=int)
        index = next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == first_failed)
        self._attempts += 1
        limit = self.wiring.maximum_retry_attempts
        if limit < 0 or self._attempts <= limit:
            # Retry from the failed record; the records before it are done.
            return (
                str(records[index - 1]["dynamodb"]["SequenceNumber"]) if index else self._before(records[0])
            )
        self._give_up(records[index:])
        self._attempts = 0
        return str(records[-1]["dynamodb"]["SequenceNumber"])

    def _before(self, record: Any) -> str:
        return str(int(record["dynamodb"]["SequenceNumber"]) - 1)

    def _give_up(self, records: list[Any]) -> None:
        logger.error(
            "stream records given up after retries",
            extra={"function": self.wiring.function, "records": len(records)},
        )
        if self._failure_queue_url:
            first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
            self._sqs.send_message(
                QueueUrl=self._failure_queue_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted"},
                        "DDBStreamBatchInfo": {
                            "streamArn": self._stream_arn,
                            "startSequenceNumber": first["SequenceNumber"],
                            "endSequenceNumber": last["SequenceNumber"],
                            "batchSize": len(records),
                        },
                    }
                ),
            )

    def _lambda_record(self, record: Any) -> dict[str, Any]:
        data = dict(record["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            data["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self._region,
            "dynamodb": data,
            "eventSourceARN": self._stream_arn,
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
                    invoke_handler(schedule.handler, event, schedule.function)
                    self._drainer.drain_if_sent(exclude=self._exclude)
                cursors[schedule.key] = moment
                progress.runs.append(ScheduledRun(schedule.name, schedule.function, moment))
            return progress
