"""The event machinery: an event is recorded only with its change, reaches the notification consumer
through the events table's stream at least once, and every notice goes out once per key; a poisoned
event goes to the events DLQ after the mapping's retries and the stream moves on; an idle pump reads
nothing; functions/events.py takes Lambda's DynamoDB stream event and reports partial failures."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

import functions.events
from chalicelib.container import Services
from chalicelib.events import Event, EventType, new_event
from chalicelib.jobs.invocation import InvocationContext
from chalicelib.jobs.streams import StreamPump
from chalicelib.notifications.events import notices_for
from chalicelib.notifications.queue import Notice
from chalicelib.notifications.sender import SendStatus
from chalicelib.store.documents import DocumentItem, WriteConflictError
from chalicelib.store.events import event_item
from infra.awscalls import InjectedCrash, count_aws_requests, fail_at_call
from infra.local.resources import LocalResources
from tests.support.aws import fresh_resources
from tests.support.catalog import Catalog, Http, person
from tests.support.events import dispatch_events, recorded_events

NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
STREAM_ARN = "arn:aws:dynamodb:eu-north-1:123456789012:table/abo-events/stream/2027-01-01T00:00:00.000"


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def place_order(http: Http, catalog: Catalog, email: str = "kari@example.no") -> str:
    body = {"offer_id": catalog.invoice_offer["id"], "payment_method": "invoice", "customer": person(email)}
    return str(http.created("/v1/orders", body)["order_id"])


def take_notices(services: Services) -> list[Notice]:
    """Every notice on the notification queue, taken off it (nothing dispatched first)."""
    notices: list[Notice] = []
    url = services.settings.notification_queue_url
    while received := services.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        notices += [Notice.parse(message["Body"]) for message in received]
        services.sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
    return notices


def pump(services: Services) -> StreamPump:
    [events_pump] = services.drainer.pumps
    return events_pump


def marker_event(subject: str) -> Event:
    return new_event(
        EventType.CUSTOMER_UPDATED, "ent_test", NOW, {"customer_id": subject, "fields": ["email"]}
    )


def test_an_order_s_events_reach_the_notification_consumer_after_commit(
    services: Services, http: Http, catalog: Catalog
) -> None:
    order_id = place_order(http, catalog)
    # Nothing is enqueued by the request itself: the notices come from the recorded events.
    assert take_notices(services) == []
    recorded = recorded_events()
    assert dispatch_events(services) == len(recorded)
    [invoice_id] = [e.data["invoice_id"] for e in recorded if e.type is EventType.INVOICE_ISSUED]
    assert sorted(n.key for n in take_notices(services)) == sorted(
        [f"order-confirmation:{order_id}", f"invoice-issued:{invoice_id}"]
    )
    # Delivered once: the stream has nothing more.
    assert dispatch_events(services) == 0


def test_a_consumer_that_fails_once_is_retried_and_each_notice_goes_out_once(
    services: Services, http: Http, catalog: Catalog
) -> None:
    order_id = place_order(http, catalog)
    with fail_at_call(
        1, ConnectionError("SQS unreachable"), service="sqs", operation="SendMessageBatch"
    ) as f:
        dispatch_events(services)
    assert f.fired
    notices = take_notices(services)
    keys = {notice.key for notice in notices}
    assert f"order-confirmation:{order_id}" in keys
    assert len(keys) == 2
    # At least once: a redelivered event may enqueue its notice again; the sender deduplicates by key.
    statuses = Counter(
        (r.key, r.result.status if r.result else None)
        for r in (services.notification_dispatcher.dispatch(n) for n in notices)
    )
    assert {key: statuses[(key, SendStatus.SENT)] for key in keys} == dict.fromkeys(keys, 1)
    assert sum(statuses.values()) == len(notices)


def test_a_transaction_that_fails_records_no_event(services: Services) -> None:
    item = DocumentItem(pk="TEST#1", sk="DOC", kind="test")
    services.documents.write([item], [])
    with pytest.raises(WriteConflictError):
        services.documents.write([item], [], events=[marker_event("cus_conflict")])  # the item exists
    with pytest.raises(InjectedCrash), fail_at_call(1, service="dynamodb", operation="TransactWriteItems"):
        services.documents.write(
            [DocumentItem(pk="TEST#2", sk="DOC", kind="test")], [], events=[marker_event("x")]
        )
    assert recorded_events() == []
    assert dispatch_events(services) == 0


def test_an_idle_pump_makes_no_request(services: Services) -> None:
    dispatch_events(services)  # a new process reads the stream once: events may wait from before it
    services.documents.write([DocumentItem(pk="TEST#1", sk="DOC", kind="test")], [])  # no event in it
    with count_aws_requests() as idle:
        assert pump(services).pump_if_pending() == 0
        assert services.drainer.drain_if_sent() == 0
    assert idle.total == 0
    services.documents.write(
        [DocumentItem(pk="TEST#2", sk="DOC", kind="test")], [], events=[marker_event("c")]
    )
    with count_aws_requests() as woken:
        assert pump(services).pump_if_pending() == 1
    assert woken.count(service="dynamodbstreams") > 0


def test_a_poisoned_event_goes_to_the_dead_letter_queue_and_later_events_still_flow(
    services: Services, http: Http, catalog: Catalog, aws: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = place_order(http, catalog, "first@example.no")
    attempts: list[str] = []

    def poisoned(event: Event) -> list[Notice]:
        if event.data.get("order_id") == first:
            attempts.append(event.id)
            raise RuntimeError("this event cannot be handled")
        return notices_for(event)

    monkeypatch.setattr("chalicelib.flows.events.notices_for", poisoned)  # the consumer's mapping
    dispatch_events(services)
    limit = pump(services).wiring.maximum_retry_attempts
    assert limit == 20  # template.yaml's MaximumRetryAttempts
    assert len(attempts) == limit + 1 and len(set(attempts)) == 1  # the first try and every retry

    dlq = aws.queues["EventsDeadLetterQueue"]
    [message] = services.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    body: dict[str, Any] = json.loads(message["Body"])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["DDBStreamBatchInfo"]["batchSize"] >= 1
    take_notices(services)

    second = place_order(http, catalog, "second@example.no")
    dispatch_events(services)
    assert f"order-confirmation:{second}" in {notice.key for notice in take_notices(services)}
    assert len(attempts) == limit + 1  # the given-up event is not delivered again


def _stream_record(event: Event, sequence: str, image: dict[str, Any] | None = None) -> dict[str, Any]:
    """A record as Lambda's DynamoDB event-source mapping delivers it."""
    new_image = image if image is not None else event_item(event).serialize()
    return {
        "eventID": f"id-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-north-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1798790400.0,
            "Keys": {"pk": new_image["pk"], "sk": new_image["sk"]},
            "NewImage": new_image,
            "SequenceNumber": sequence,
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": STREAM_ARN,
    }


def test_the_lambda_handler_dispatches_a_stream_batch_and_reports_the_failed_record(
    services: Services,
) -> None:
    paused = new_event(
        EventType.SUBSCRIPTION_STOPPED,
        "ent_test",
        NOW,
        {"subscription_id": "sub_1", "customer_id": "cus_1", "end": "2027-01-31"},
    )
    broken = {**event_item(paused).serialize(), "type": {"S": "subscription.vanished"}}
    batch = {"Records": [_stream_record(paused, "100"), _stream_record(paused, "200", broken)]}
    context: Any = InvocationContext(function_name="EventsFunction")  # what Lambda's context offers
    result = functions.events.handler(batch, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "200"}]}
    assert [notice.key for notice in take_notices(services)] == ["subscription-stopped:sub_1"]


def test_the_pump_follows_an_events_table_created_anew(services: Services, moto_endpoint: str) -> None:
    # Given an event dispatched from the events table's stream
    def record() -> None:
        event = new_event(
            EventType.CUSTOMER_UPDATED,
            "ent_1",
            datetime(2027, 1, 1, tzinfo=UTC),
            {"customer_id": "cus_1", "fields": ["name"]},
        )
        services.documents.write([], [], events=[event])

    record()
    assert dispatch_events(services) == 1
    # When the tables are created anew (a fresh world in one process) and another event is recorded
    fresh_resources(moto_endpoint)
    record()
    # Then the pump reads the new table's stream from its start (before: it kept the old position and
    # delivered nothing)
    assert dispatch_events(services) == 1
