"""An import crashed at each AWS call in turn, then run again, ends with exactly the table an uncrashed
import leaves (the S3 → SQS → function path, the handler invoked with the event SQS delivered)."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Literal

import boto3
import pytest

from chalicelib.billing.models import Invoice
from chalicelib.container import Services
from chalicelib.jobs.invocation import InvocationContext
from functions.ocr_import import handler
from infra.awscalls import InjectedCrash, count_aws_requests, fail_at_call
from tests.support.aws import REGION, fresh_resources
from tests.support.events import recorded_events
from tests.support.ledger import dump_table, seed_customer, seed_invoice, seed_seller
from tests.support.ocr import Paid, ocr_file

KEY = "ocr/crash.txt"


def seed(services: Services) -> tuple[Invoice, Invoice]:
    """Empty main and events tables but for a seller and two customers with an invoice each."""
    dynamodb = boto3.session.Session().resource("dynamodb", region_name=REGION)
    for name in (services.settings.main_table, services.settings.events_table):
        table = dynamodb.Table(name)
        with table.batch_writer() as batch:
            for page in table.meta.client.get_paginator("scan").paginate(TableName=table.name):
                for item in page["Items"]:
                    batch.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
    seed_seller(services)
    first = seed_customer(services, "cus_seed_1", 10001)
    second = seed_customer(services, "cus_seed_2", 10002)
    return seed_invoice(services, first, 1, 29900), seed_invoice(services, second, 2, 34900)


def prepare(services: Services, endpoint: str) -> dict[str, Any]:
    """Fresh resources, the seed, the file in the bucket; returns the event SQS delivers for it."""
    fresh_resources(endpoint)
    one, two = seed(services)
    bad_kid = (two.kid or "")[:-1] + str((int((two.kid or "0")[-1]) + 1) % 10)
    data = ocr_file(
        [
            Paid(one.kid, 29900),
            Paid(two.kid, 50000),
            Paid("0000000000000000018", 1000),  # a valid KID that names nothing
            Paid(bad_kid, 2000),
            Paid(one.kid, -5000),  # a reversal
        ]
    )
    queue = services.sqs.get_queue_url(QueueName="abo-ocr-import")["QueueUrl"]
    services.sqs.purge_queue(QueueUrl=queue)
    services.s3.put_object(Bucket=services.settings.documents_bucket, Key=KEY, Body=data)
    arn = services.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for _ in range(10):
        messages = services.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        bodies = [m for m in messages if json.loads(m["Body"]).get("Event") != "s3:TestEvent"]
        if bodies:
            message = bodies[0]
            break
    else:
        raise AssertionError("no notification arrived")
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": services.settings.region,
            }
        ]
    }


def what_happened() -> list[tuple[str, str, str]]:
    """The recorded events without their ids (each id is drawn anew when a change is built), sorted."""
    return sorted(
        (event.type.value, event.legal_entity_id, json.dumps(dict(event.data), sort_keys=True))
        for event in recorded_events()
    )


def run(event: dict[str, Any]) -> dict[str, Any]:
    context: Any = InvocationContext(function_name="OcrImportFunction")
    return dict(handler(event, context))


@pytest.mark.parametrize(
    ("when", "operation"),
    [("before", None), ("after", "TransactWriteItems")],
    ids=["before-every-call", "after-every-write"],
)
def test_an_import_crashed_at_every_aws_call_and_rerun_ends_as_an_uncrashed_one(
    services: Services, moto_endpoint: str, when: Literal["before", "after"], operation: str | None
) -> None:
    # Given the state an uncrashed import leaves
    event = prepare(services, moto_endpoint)
    with count_aws_requests() as counter:
        assert run(event) == {"batchItemFailures": []}
    expected = dump_table(services)
    expected_events = what_happened()
    assert {type_ for type_, _, _ in expected_events} == {"payment.received", "invoice.paid"}
    assert counter.count(service="dynamodb", operation="TransactWriteItems") >= 5
    assert any(pk.startswith("SUSPENSE#") for pk, _ in expected)
    crashes = 0
    while True:
        # When the import crashes at the n-th AWS call and the message comes back
        seed(services)
        with (
            fail_at_call(crashes + 1, when=when, operation=operation) as fault,
            contextlib.suppress(InjectedCrash),
        ):
            run(event)
        assert run(event) == {"batchItemFailures": []}
        # Then the table is exactly what one complete run leaves
        assert dump_table(services) == expected, f"after a crash at {fault.failed_call}"
        # and its events are those of one complete run, each recorded once
        assert what_happened() == expected_events, f"after a crash at {fault.failed_call}"
        if not fault.fired:
            break
        crashes += 1
    assert crashes == counter.count(operation=operation)
