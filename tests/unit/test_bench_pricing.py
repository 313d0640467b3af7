"""The cost benchmark's arithmetic: DynamoDB request units worked out from a call, and usage priced."""

from __future__ import annotations

import pytest

from bench.meters import item_size, request_units
from bench.prices import (
    DYNAMODB_READ_REQUEST_UNIT,
    DYNAMODB_WRITE_REQUEST_UNIT,
    LAMBDA_GB_SECOND_ARM,
    LAMBDA_REQUEST,
    S3_GET_AND_OTHER,
    S3_PUT_COPY_POST_LIST,
    SES_MESSAGE,
    SQS_REQUEST,
    Usage,
    cost_usd,
    read_units,
    write_units,
)

SMALL = {"pk": {"S": "CUSTOMER#1"}, "sk": {"S": "PROFILE"}, "n": {"N": "12345"}}
LARGE = {"pk": {"S": "DOC#1"}, "body": {"S": "x" * 5000}}  # over 4 KB: two read units, five write units


def test_an_item_is_sized_as_dynamodb_sizes_it_names_and_values() -> None:
    assert item_size({"ab": {"S": "xyz"}}) == 5
    assert item_size({"flag": {"BOOL": True}, "none": {"NULL": True}}) == 4 + 1 + 4 + 1
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + 2
    assert item_size({"l": {"L": [{"S": "ab"}, {"S": "c"}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"n": {"N": "12345"}}) == 1 + 3
    assert item_size(None) == 0


def test_units_are_rounded_up_per_kilobyte_and_consistency_and_transactions_are_priced() -> None:
    assert read_units(0, consistent=True) == 1.0
    assert read_units(4096, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(100, consistent=True, transactional=True) == 2.0
    assert write_units(1024) == 1.0
    assert write_units(1025) == 2.0
    assert write_units(10, transactional=True) == 2.0


@pytest.mark.parametrize(
    ("operation", "params", "parsed", "units"),
    [
        ("GetItem", {"ConsistentRead": True}, {"Item": SMALL}, (1.0, 0.0)),
        ("GetItem", {}, {"Item": LARGE}, (1.0, 0.0)),  # eventually consistent: half of two units
        ("GetItem", {}, {}, (0.5, 0.0)),  # nothing found still costs a read
        ("Query", {}, {"Items": [LARGE, LARGE]}, (1.5, 0.0)),  # the page's size, not per item
        ("Query", {}, {"Items": []}, (0.5, 0.0)),
        ("BatchGetItem", {"RequestItems": {"t": {}}}, {"Responses": {"t": [SMALL, LARGE]}}, (1.5, 0.0)),
        ("TransactGetItems", {}, {"Responses": [{"Item": SMALL}, {"Item": SMALL}]}, (4.0, 0.0)),
        ("PutItem", {"Item": LARGE}, {}, (0.0, 5.0)),
        ("UpdateItem", {"Key": SMALL, "ExpressionAttributeValues": {":v": {"N": "1"}}}, {}, (0.0, 1.0)),
        (
            "BatchWriteItem",
            {"RequestItems": {"t": [{"PutRequest": {"Item": LARGE}}, {"DeleteRequest": {"Key": SMALL}}]}},
            {},
            (0.0, 6.0),
        ),
        (
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"Item": SMALL}},
                    {"Update": {"Key": SMALL}},
                    {"ConditionCheck": {"Key": SMALL}},
                ]
            },
            {},
            (0.0, 6.0),
        ),
        ("DescribeTable", {}, {}, (0.0, 0.0)),
    ],
)
def test_a_calls_request_units_follow_from_its_items(
    operation: str, params: dict[str, object], parsed: dict[str, object], units: tuple[float, float]
) -> None:
    assert request_units(operation, params, parsed) == units


def test_usage_is_priced_per_service_and_a_baseline_is_taken_off_before_sharing() -> None:
    month = Usage(
        calls={
            "dynamodb.Query": 10,
            "sqs.ReceiveMessage": 4,
            "sqs.SendMessageBatch": 1,
            "s3.PutObject": 2,
            "s3.GetObject": 3,
            "s3.DeleteObject": 9,  # free
            "ses.SendRawEmail": 2,
            "ses.VerifyEmailIdentity": 1,  # not a message
            "dynamodbstreams.GetRecords": 7,  # free when Lambda reads the stream
        },
        read_units=100.0,
        write_units=40.0,
        lambda_invocations=6,
        lambda_gb_seconds=1.5,
    )
    priced = cost_usd(month)
    assert priced["dynamodb"] == pytest.approx(
        100 * DYNAMODB_READ_REQUEST_UNIT + 40 * DYNAMODB_WRITE_REQUEST_UNIT
    )
    assert priced["sqs"] == pytest.approx(5 * SQS_REQUEST)
    assert priced["s3"] == pytest.approx(2 * S3_PUT_COPY_POST_LIST + 3 * S3_GET_AND_OTHER)
    assert priced["ses"] == pytest.approx(2 * SES_MESSAGE)
    assert priced["lambda"] == pytest.approx(6 * LAMBDA_REQUEST + 1.5 * LAMBDA_GB_SECOND_ARM)
    assert priced["dynamodbstreams"] == 0.0
    assert priced["sns"] == 0.0

    empty = Usage({"dynamodb.Query": 4, "sqs.ReceiveMessage": 8}, 20.0, 0.0, 2, 0.5)
    each = month.minus(empty).scaled(1 / 2)
    assert each.calls["dynamodb.Query"] == 3
    assert "sqs.ReceiveMessage" not in each.calls  # never below zero
    assert (each.read_units, each.write_units, each.lambda_invocations) == (40.0, 20.0, 2)
    assert each.lambda_gb_seconds == pytest.approx(0.5)
