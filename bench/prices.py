"""AWS unit prices of eu-north-1 (Europe, Stockholm) in USD, and what a set of counted requests costs.

The prices are public list prices, on-demand, without the free tier. They were transcribed on 6 December
2026 on a machine without network access, from the pricing pages named beside each constant (the prices in
effect since DynamoDB's on-demand reduction of 1 November 2024); check them against the pages before
quoting a figure outside the team. ``ABO_BENCH_USD_NOK`` overrides the exchange rate.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

# https://aws.amazon.com/dynamodb/pricing/on-demand/ (eu-north-1, Standard table class), per request unit.
DYNAMODB_WRITE_REQUEST_UNIT = 0.66875 / 1_000_000
DYNAMODB_READ_REQUEST_UNIT = 0.13375 / 1_000_000
# https://aws.amazon.com/sqs/pricing/ (standard queues, after the first million a month), per request.
SQS_REQUEST = 0.40 / 1_000_000
# https://aws.amazon.com/s3/pricing/ (S3 Standard, eu-north-1), per request.
S3_PUT_COPY_POST_LIST = 0.005 / 1_000
S3_GET_AND_OTHER = 0.0004 / 1_000
# https://aws.amazon.com/lambda/pricing/ (eu-north-1, Arm, the template's architecture).
LAMBDA_REQUEST = 0.20 / 1_000_000
LAMBDA_GB_SECOND_ARM = 0.0000133334
# https://aws.amazon.com/ses/pricing/ (outbound e-mail); the attachments' $0.12 per GB is not priced.
SES_MESSAGE = 0.10 / 1_000
# https://aws.amazon.com/sns/pricing/ (standard topic publishes); SMS is priced per message and country
# and is not part of these figures (the platform sends none today).
SNS_PUBLISH = 0.50 / 1_000_000
# DynamoDB Streams reads made by a Lambda trigger are free (DynamoDB pricing page, "DynamoDB Streams").
DYNAMODB_STREAMS_READ_BY_LAMBDA = 0.0
# NOK per USD: Norges Bank's exchange rate, rounded (about its 2025 average).
USD_NOK = float(os.environ.get("ABO_BENCH_USD_NOK", "10.50"))

_S3_TIER_ONE = frozenset(
    {
        "PutObject",
        "CopyObject",
        "PostObject",
        "ListObjects",
        "ListObjectsV2",
        "ListObjectVersions",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    }
)
_S3_FREE = frozenset({"DeleteObject", "DeleteObjects"})
_SES_SENDS = frozenset({"SendEmail", "SendRawEmail", "SendTemplatedEmail", "SendBulkTemplatedEmail"})


@dataclass(frozen=True)
class Usage:
    """What was used: AWS API calls by ``service.Operation``, DynamoDB request units, Lambda work."""

    calls: Mapping[str, float]
    read_units: float
    write_units: float
    lambda_invocations: float
    lambda_gb_seconds: float

    def scaled(self, factor: float) -> Usage:
        """This usage times ``factor`` (per subscriber: one over their number)."""
        return Usage(
            {name: n * factor for name, n in self.calls.items()},
            self.read_units * factor,
            self.write_units * factor,
            self.lambda_invocations * factor,
            self.lambda_gb_seconds * factor,
        )

    def minus(self, other: Usage) -> Usage:
        """This usage less ``other`` (a baseline), never below zero."""
        names = set(self.calls) | set(other.calls)
        calls = {name: self.calls.get(name, 0) - other.calls.get(name, 0) for name in names}
        return Usage(
            {name: n for name, n in calls.items() if n > 0},
            max(0.0, self.read_units - other.read_units),
            max(0.0, self.write_units - other.write_units),
            max(0, self.lambda_invocations - other.lambda_invocations),
            max(0.0, self.lambda_gb_seconds - other.lambda_gb_seconds),
        )


def requests_of(calls: Mapping[str, float], service: str) -> float:
    """The calls made to ``service`` (botocore's name: dynamodb, sqs, s3, ses, sns, dynamodbstreams)."""
    return sum(n for name, n in calls.items() if name.split(".", 1)[0] == service)


def cost_usd(usage: Usage) -> dict[str, float]:
    """USD by service for ``usage`` at the constants above."""
    s3 = 0.0
    ses = 0.0
    for name, n in usage.calls.items():
        service, operation = name.split(".", 1)
        if service == "s3" and operation not in _S3_FREE:
            s3 += n * (S3_PUT_COPY_POST_LIST if operation in _S3_TIER_ONE else S3_GET_AND_OTHER)
        elif service == "ses" and operation in _SES_SENDS:
            ses += n * SES_MESSAGE
    return {
        "dynamodb": usage.read_units * DYNAMODB_READ_REQUEST_UNIT
        + usage.write_units * DYNAMODB_WRITE_REQUEST_UNIT,
        "dynamodbstreams": requests_of(usage.calls, "dynamodbstreams") * DYNAMODB_STREAMS_READ_BY_LAMBDA,
        "sqs": requests_of(usage.calls, "sqs") * SQS_REQUEST,
        "s3": s3,
        "lambda": usage.lambda_invocations * LAMBDA_REQUEST + usage.lambda_gb_seconds * LAMBDA_GB_SECOND_ARM,
        "ses": ses,
        "sns": requests_of(usage.calls, "sns") * SNS_PUBLISH,
    }


def nok(usd: float) -> float:
    """``usd`` in NOK at :data:`USD_NOK`."""
    return usd * USD_NOK


def read_units(size_bytes: int, *, consistent: bool, transactional: bool = False) -> float:
    """Read request units of reading ``size_bytes`` (4 KB a unit, rounded up; at least one unit)."""
    units = max(1, math.ceil(size_bytes / 4096))
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def write_units(size_bytes: int, *, transactional: bool = False) -> float:
    """Write request units of writing an item of ``size_bytes`` (1 KB a unit, rounded up; at least one)."""
    units = max(1, math.ceil(size_bytes / 1024))
    return 2.0 * units if transactional else float(units)
