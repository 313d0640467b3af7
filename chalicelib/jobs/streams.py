"""Lambda's DynamoDB stream event-source mapping, in process: the events table's stream handed to its
consumer (the event dispatcher) by the local stack and inside the test clock's drain."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.jobs import invocation
from chalicelib.jobs.template import StreamWiring
from chalicelib.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_sqs import SQSClient


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
            self._follow_latest_stream()
            handed = sum(self._pump_shard(shard) for shard in self._shards())
            self._seen_puts = mark
            return handed

    def _follow_latest_stream(self) -> None:
        """A table created anew has a new stream: start at its beginning (one ListStreams per read)."""
        listed = self._streams.list_streams(TableName=self.wiring.table_name)["Streams"]
        latest = str(listed[-1]["StreamArn"]) if listed else ""
        if latest != self._stream_arn:
            self._stream_arn, self._positions = latest, {}

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
            result = invocation.invoke_handler(self.wiring.handler, event, self.wiring.function)
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
