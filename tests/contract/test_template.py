"""template.yaml: every schedule and every S3 → SQS path reaches a handler, every consumed queue has a dead
letter queue, the events table's stream reaches its dispatcher with bounded retries, a watched failure
queue and a lag alarm, and the local stack creates exactly what the template declares."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.jobs.schedule import parse_schedule
from chalicelib.jobs.template import load_template, logical_id_of, read_wiring, resolve_name
from infra.local.resources import LocalResources
from tests.support.aws import REGION

pytestmark = pytest.mark.contract

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
WIRING = read_wiring(TEMPLATE)
SQS_DEFAULT_VISIBILITY_TIMEOUT = 30
SQS_DEFAULT_RETENTION = 345_600


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == kind
    }


def _function_setting(logical_id: str, name: str) -> Any:
    properties = TEMPLATE["Resources"][logical_id]["Properties"]
    return properties.get(name, TEMPLATE.get("Globals", {}).get("Function", {}).get(name))


def _assert_handler(handler: str) -> None:
    module, _, attribute = handler.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attribute)), handler


@pytest.mark.parametrize("schedule", WIRING.schedules, ids=lambda s: s.name)
def test_every_schedule_parses_and_reaches_a_handler(schedule: Any) -> None:
    parse_schedule(schedule.expression)
    assert schedule.catch_up in ("every", "latest")
    _assert_handler(schedule.handler)


@pytest.mark.parametrize("consumer", WIRING.queues, ids=lambda q: q.function)
def test_every_queue_consumer_reaches_a_handler(consumer: Any) -> None:
    _assert_handler(consumer.handler)
    # Lambda refuses an SQS event source whose visibility timeout is shorter than the function's timeout.
    visibility = _of_type("AWS::SQS::Queue")[consumer.queue_logical_id].get(
        "VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT
    )
    assert int(visibility) >= int(_function_setting(consumer.function, "Timeout"))


def test_there_is_something_to_wire() -> None:
    assert WIRING.schedules
    assert WIRING.queues
    assert WIRING.notifications


@pytest.mark.parametrize(
    "notification", WIRING.notifications, ids=lambda n: f"{n.bucket_logical_id}/{n.prefix}"
)
def test_every_bucket_notification_is_consumed_and_allowed(notification: Any) -> None:
    consumed = {consumer.queue_logical_id for consumer in WIRING.queues}
    assert notification.queue_logical_id in consumed
    # S3 may only send to the queue when a queue policy allows it, created before the bucket.
    allowing = [
        logical_id
        for logical_id, policy in _of_type("AWS::SQS::QueuePolicy").items()
        if any(logical_id_of(queue) == notification.queue_logical_id for queue in policy["Queues"])
        and any(
            statement["Effect"] == "Allow"
            and statement["Principal"] == {"Service": "s3.amazonaws.com"}
            and "sqs:SendMessage" in statement["Action"]
            for statement in policy["PolicyDocument"]["Statement"]
        )
    ]
    assert allowing
    depends_on = TEMPLATE["Resources"][notification.bucket_logical_id].get("DependsOn", [])
    assert set(allowing) & set([depends_on] if isinstance(depends_on, str) else depends_on)


@pytest.mark.parametrize("queue", sorted({q.queue_logical_id for q in WIRING.queues}))
def test_every_consumed_queue_has_a_dead_letter_queue(queue: str) -> None:
    queues = _of_type("AWS::SQS::Queue")
    redrive = queues[queue]["RedrivePolicy"]
    dead_letter = logical_id_of(redrive["deadLetterTargetArn"])
    assert dead_letter in queues
    assert dead_letter != queue
    assert int(redrive["maxReceiveCount"]) >= 1
    # A message must not expire in the dead letter queue before it would have in its source.
    assert int(queues[dead_letter].get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)) >= int(
        queues[queue].get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)
    )


def test_the_local_stack_has_exactly_the_templates_resources(aws: LocalResources) -> None:
    assert set(aws.tables) == set(_of_type("AWS::DynamoDB::Table"))
    assert set(aws.queues) == set(_of_type("AWS::SQS::Queue"))
    assert set(aws.buckets) == set(_of_type("AWS::S3::Bucket"))


@pytest.mark.parametrize("logical_id", sorted(_of_type("AWS::DynamoDB::Table")))
def test_local_tables_match_the_template(aws: LocalResources, logical_id: str) -> None:
    declared = _of_type("AWS::DynamoDB::Table")[logical_id]
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = dynamodb.describe_table(TableName=aws.tables[logical_id])["Table"]
    assert table["TableName"] == resolve_name(declared["TableName"])
    assert table["KeySchema"] == declared["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(declared["AttributeDefinitions"], key=str)
    created = {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in table.get("GlobalSecondaryIndexes", [])
    }
    assert created == {
        index["IndexName"]: (index["KeySchema"], index["Projection"])
        for index in declared.get("GlobalSecondaryIndexes", [])
    }
    ttl = dynamodb.describe_time_to_live(TableName=aws.tables[logical_id])["TimeToLiveDescription"]
    if "TimeToLiveSpecification" in declared:
        assert ttl.get("AttributeName") == declared["TimeToLiveSpecification"]["AttributeName"]
        assert ttl.get("TimeToLiveStatus") == "ENABLED"
    else:
        assert ttl.get("TimeToLiveStatus", "DISABLED") == "DISABLED"


@pytest.mark.parametrize("logical_id", sorted(_of_type("AWS::SQS::Queue")))
def test_local_queues_match_the_template(aws: LocalResources, logical_id: str) -> None:
    declared = _of_type("AWS::SQS::Queue")[logical_id]
    sqs = boto3.client("sqs", region_name=REGION)
    url = aws.queues[logical_id]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"].endswith(f":{resolve_name(declared['QueueName'])}")
    for name in ("VisibilityTimeout", "MessageRetentionPeriod"):
        if name in declared:
            assert attributes[name] == str(declared[name])
    if "RedrivePolicy" not in declared:
        assert "RedrivePolicy" not in attributes
        return
    redrive = json.loads(attributes["RedrivePolicy"])
    dead_letter = aws.queues[logical_id_of(declared["RedrivePolicy"]["deadLetterTargetArn"])]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letter, AttributeNames=["QueueArn"])
    assert redrive["deadLetterTargetArn"] == dead_letter_arn["Attributes"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == int(declared["RedrivePolicy"]["maxReceiveCount"])


@pytest.mark.parametrize("logical_id", sorted(_of_type("AWS::S3::Bucket")))
def test_local_buckets_and_their_notifications_match_the_template(
    aws: LocalResources, logical_id: str
) -> None:
    declared = _of_type("AWS::S3::Bucket")[logical_id]
    s3 = boto3.client("s3", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bucket = aws.buckets[logical_id]
    assert bucket == resolve_name(declared["BucketName"])
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    assert versioning == declared.get("VersioningConfiguration", {}).get("Status")

    def arn(queue_logical_id: str) -> str:
        url = aws.queues[queue_logical_id]
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    created = [
        (
            item["QueueArn"],
            sorted(item["Events"]),
            sorted(
                (rule["Name"].lower(), rule["Value"])
                for rule in item.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            ),
        )
        for item in s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
    ]
    expected = [
        (
            arn(logical_id_of(item["Queue"])),
            [item["Event"]],
            sorted(
                (rule["Name"].lower(), rule["Value"])
                for rule in item.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            ),
        )
        for item in declared.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
    ]
    assert created == expected


# ---- alarms ------------------------------------------------------------------------------------------

ALARM_TOPIC = "AlarmTopic"


def _alarms(namespace: str, metric: str) -> list[dict[str, Any]]:
    """Alarms on ``namespace``/``metric`` that fire on any count above zero and notify the alarm topic."""
    found = []
    for logical_id, alarm in _of_type("AWS::CloudWatch::Alarm").items():
        if (alarm["Namespace"], alarm["MetricName"]) != (namespace, metric):
            continue
        assert (alarm["ComparisonOperator"], float(alarm["Threshold"])) == ("GreaterThanThreshold", 0.0)
        assert alarm["TreatMissingData"] == "notBreaching"  # no messages, no invocations: nothing wrong
        assert {"Ref": ALARM_TOPIC} in alarm["AlarmActions"]
        found.append({**alarm, "Condition": TEMPLATE["Resources"][logical_id].get("Condition")})
    return found


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    [value] = [dimension["Value"] for dimension in alarm["Dimensions"] if dimension["Name"] == name]
    return value


def _dead_letter_queues() -> set[str]:
    """Queues' redrive targets, and stream mappings' on-failure destinations."""
    redrive_targets = {
        logical_id_of(queue["RedrivePolicy"]["deadLetterTargetArn"])
        for queue in _of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in queue
    }
    on_failure = {
        logical_id_of(event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
        for function in _of_type("AWS::Serverless::Function").values()
        for event in (function.get("Events") or {}).values()
        if event["Type"] == "DynamoDB" and "DestinationConfig" in event["Properties"]
    }
    return redrive_targets | on_failure


def test_alarms_notify_one_topic_with_an_optional_email() -> None:
    assert ALARM_TOPIC in _of_type("AWS::SNS::Topic")
    [subscription] = [
        resource
        for resource in TEMPLATE["Resources"].values()
        if resource["Type"] == "AWS::SNS::Subscription"
    ]
    assert subscription["Properties"]["TopicArn"] == {"Ref": ALARM_TOPIC}
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Condition"] in TEMPLATE["Conditions"]
    assert TEMPLATE["Parameters"]["AlarmEmail"]["Default"] == ""


@pytest.mark.parametrize("queue", sorted(_of_type("AWS::SQS::Queue")))
def test_every_queue_has_a_dead_letter_queue_that_alarms(queue: str) -> None:
    dead_letters = _dead_letter_queues()
    if queue in dead_letters:
        watched = {
            logical_id_of(_dimension(alarm, "QueueName")): alarm["Condition"]
            for alarm in _alarms("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        }
        assert queue in watched, f"no alarm on the dead letter queue {queue}"
        # An alarm exists exactly when its queue does (a queue of a condition, e.g. the test clock's).
        assert watched[queue] == TEMPLATE["Resources"][queue].get("Condition")
    else:
        redrive = _of_type("AWS::SQS::Queue")[queue].get("RedrivePolicy")
        assert redrive is not None, f"{queue} has no dead letter queue"
        assert logical_id_of(redrive["deadLetterTargetArn"]) in dead_letters


@pytest.mark.parametrize("schedule", WIRING.schedules, ids=lambda s: f"{s.function}.{s.name}")
def test_every_scheduled_function_alarms_on_errors_and_failed_invocations(schedule: Any) -> None:
    errors = {logical_id_of(_dimension(a, "FunctionName")) for a in _alarms("AWS/Lambda", "Errors")}
    assert schedule.function in errors
    # The schedule's rule has a fixed name, so its EventBridge metric can be watched.
    event = TEMPLATE["Resources"][schedule.function]["Properties"]["Events"][schedule.name]
    rule_name = event["Properties"]["Name"]
    failed = [_dimension(a, "RuleName") for a in _alarms("AWS/Events", "FailedInvocations")]
    assert rule_name in failed
    assert len(resolve_name(rule_name, "a" * 40)) <= 64  # EventBridge's limit, for a long stack name


def test_an_idempotency_key_is_held_longer_than_the_api_function_may_run() -> None:
    from chalicelib.api.idempotency import API_FUNCTION_TIMEOUT_SECONDS, IN_PROGRESS_SECONDS

    # `make package` lets the Globals configure the API function (infra/package.py, _defer_to_globals)
    assert int(TEMPLATE["Globals"]["Function"]["Timeout"]) == API_FUNCTION_TIMEOUT_SECONDS
    # A request still running must keep its key: a retry while it runs is "in progress", never a second run
    assert IN_PROGRESS_SECONDS > API_FUNCTION_TIMEOUT_SECONDS


# ---- the events table, its stream and the dispatcher -------------------------------------------------

STREAM_RECORD_RETENTION_SECONDS = 86_400  # DynamoDB Streams keeps a record 24 hours
ITERATOR_AGE_LIMIT_MS = 15 * 60 * 1000


def _stream_events(function: str) -> list[dict[str, Any]]:
    events = TEMPLATE["Resources"][function]["Properties"].get("Events") or {}
    return [event["Properties"] for event in events.values() if event["Type"] == "DynamoDB"]


def test_the_events_table_matches_its_model_streams_new_images_and_expires_events() -> None:
    from chalicelib.store.events import EventItem, EventsByType

    declared = _of_type("AWS::DynamoDB::Table")["EventsTable"]
    keys = {key["KeyType"]: key["AttributeName"] for key in declared["KeySchema"]}
    attributes = EventItem.get_attributes().values()
    hash_key = [attribute.attr_name for attribute in attributes if attribute.is_hash_key]
    range_key = [attribute.attr_name for attribute in attributes if attribute.is_range_key]
    assert ([keys["HASH"]], [keys["RANGE"]]) == (hash_key, range_key)
    [index] = declared["GlobalSecondaryIndexes"]
    assert index["IndexName"] == EventsByType.Meta.index_name
    assert index["Projection"] == {"ProjectionType": "ALL"}  # the list reads whole events from it
    assert [key["AttributeName"] for key in index["KeySchema"]] == ["type_day", "sk"]
    # The dispatcher reads the event from the new image; TTL deletes by the model's expiry.
    assert declared["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert declared["TimeToLiveSpecification"] == {
        "AttributeName": EventItem.expires_at.attr_name,
        "Enabled": True,
    }
    assert declared["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert [stream.table_logical_id for stream in WIRING.streams] == ["EventsTable"]


def test_the_local_events_table_has_its_stream(aws: LocalResources) -> None:
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=aws.tables["EventsTable"])
    assert table["Table"]["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


@pytest.mark.parametrize("stream", WIRING.streams, ids=lambda s: s.function)
def test_every_stream_consumer_retries_a_bounded_number_of_times_then_gives_up_into_a_watched_queue(
    stream: Any,
) -> None:
    _assert_handler(stream.handler)
    [mapping] = _stream_events(stream.function)
    # A failed record is retried alone and from where it failed; the rest of its batch is not repeated.
    assert "ReportBatchItemFailures" in mapping["FunctionResponseTypes"]
    assert mapping["BisectBatchOnFunctionError"] is True
    # Only new events: TTL's deletions are stream records too, and dispatching them would repeat events.
    assert stream.event_names == frozenset({"INSERT"})
    # Bounded retries (-1 would block the shard behind a poisoned record until it expires).
    assert 0 <= stream.maximum_retry_attempts <= 10_000
    assert 0 < int(mapping["MaximumRecordAgeInSeconds"]) <= STREAM_RECORD_RETENTION_SECONDS
    assert mapping["StartingPosition"] == "TRIM_HORIZON"  # a new mapping starts with what is waiting
    # What is given up goes to a queue the function may send to, kept longer than the stream keeps records.
    destination = logical_id_of(mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert mapping["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    assert destination in _dead_letter_queues()
    queue = _of_type("AWS::SQS::Queue")[destination]
    assert int(queue.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)) > STREAM_RECORD_RETENTION_SECONDS
    policies = TEMPLATE["Resources"][stream.function]["Properties"]["Policies"]
    assert {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [destination, "QueueName"]}}} in policies
    readable = [
        policy["DynamoDBStreamReadPolicy"] for policy in policies if "DynamoDBStreamReadPolicy" in policy
    ]
    assert stream.table_logical_id in {logical_id_of(policy["TableName"]) for policy in readable}


@pytest.mark.parametrize("stream", WIRING.streams, ids=lambda s: s.function)
def test_every_stream_consumer_alarms_when_it_falls_behind(stream: Any) -> None:
    alarms = [
        alarm
        for alarm in _of_type("AWS::CloudWatch::Alarm").values()
        if (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", "IteratorAge")
        and logical_id_of(_dimension(alarm, "FunctionName")) == stream.function
    ]
    [alarm] = alarms
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Maximum", "GreaterThanThreshold")
    assert 0 < float(alarm["Threshold"]) <= ITERATOR_AGE_LIMIT_MS
    assert alarm["TreatMissingData"] == "notBreaching"
    assert {"Ref": ALARM_TOPIC} in alarm["AlarmActions"]
