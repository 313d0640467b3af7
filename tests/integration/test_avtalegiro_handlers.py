"""The AvtaleGiro functions invoked as Lambda invokes them: the mandate import with the SQS message that
wraps S3's notification of a file under ``avtalegiro/mandates/``, and the daily claim run with the
scheduled EventBridge event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalice.test import Client

from chalicelib.avtalegiro.models import MandateStatus, SubmissionStatus
from chalicelib.container import Services
from chalicelib.formats.avtalegiro.claim_files import parse_claim_file
from chalicelib.formats.avtalegiro.claims import FileKind
from chalicelib.jobs.invocation import InvocationContext
from functions import avtalegiro_claims, avtalegiro_mandates
from tests.integration.test_avtalegiro_claims import NOW, mandate_file
from tests.integration.test_avtalegiro_claims import setup as claimed_invoices
from tests.support.catalog import Http, build_catalog, person

ACCOUNT = "123456789012"


def s3_notification(services: Services, key: str, encoded_key: str) -> dict[str, Any]:
    """S3's ObjectCreated notification of ``key`` as it is in the bucket (the key URL-encoded, as S3
    sends it)."""
    bucket = services.settings.documents_bucket
    head = services.s3.head_object(Bucket=bucket, Key=key)
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": services.settings.region,
                "eventTime": "2027-01-01T08:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "avtalegiro-mandates",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {
                        "key": encoded_key,
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def sqs_event(services: Services, *bodies: dict[str, Any] | str) -> dict[str, Any]:
    """The event SQS's event-source mapping delivers: one record per message."""
    arn = f"arn:aws:sqs:{services.settings.region}:{ACCOUNT}:abo-avtalegiro-mandates"
    return {
        "Records": [
            {
                "messageId": f"msg-{number}",
                "receiptHandle": f"handle-{number}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": services.settings.region,
            }
            for number, body in enumerate(bodies, 1)
        ]
    }


def invoke_mandates(event: dict[str, Any]) -> dict[str, Any]:
    context: Any = InvocationContext(function_name="AvtaleGiroMandatesFunction")
    return dict(avtalegiro_mandates.handler(event, context))


def scheduled(moment: datetime) -> dict[str, Any]:
    """EventBridge's Scheduled Event for ``moment``."""
    return {
        "version": "0",
        "id": "0a1b2c3d-0000-4000-8000-000000000001",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-north-1",
        "resources": [f"arn:aws:events:eu-north-1:{ACCOUNT}:rule/abo-avtalegiro-claims"],
        "detail": {},
    }


def invoke_claims(moment: datetime) -> dict[str, Any]:
    context: Any = InvocationContext(function_name="AvtaleGiroClaimsFunction")
    return dict(avtalegiro_claims.handler(scheduled(moment), context))


def test_a_mandate_file_announced_through_sqs_is_imported_once(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    # Given an order paid by AvtaleGiro waiting for its mandate, and Nets' file with it in the bucket
    http = Http(api, admin)
    catalog = build_catalog(http)
    body = {"offer_id": catalog.campaign_offer["id"], "payment_method": "avtalegiro", "customer": person()}
    status, order = http.post("/v1/orders", body)
    assert status == 201, order
    kid = order["payment"]["kid"]
    key = "avtalegiro/mandates/Mandater 2027-01-01.txt"
    data = mandate_file(kid, notify=False)
    services.s3.put_object(Bucket=services.settings.documents_bucket, Key=key, Body=data)
    notification = s3_notification(services, key, "avtalegiro/mandates/Mandater+2027-01-01.txt")
    # When the function gets the message (with S3's test event in the same batch)
    response = invoke_mandates(sqs_event(services, {"Event": "s3:TestEvent"}, notification))
    # Then no record failed, the arrival is recorded under the decoded key, and the mandate is active
    assert response == {"batchItemFailures": []}
    arrivals = services.inbound_files.arrivals("avtalegiro_mandates")
    assert [(a.file.key, a.file.size) for a in arrivals] == [(key, len(data))]
    mandates = services.avtalegiro.mandates
    mandate = mandates.mandate(kid)
    assert mandate is not None
    assert (mandate.status, mandate.notify, mandate.agreement_ids) == (
        MandateStatus.ACTIVE,
        False,
        [order["agreement_id"]],
    )
    report = mandates.report(mandate.file_id)
    assert report is not None and (report.status, report.key, report.linked) == ("imported", key, 1)
    # When SQS delivers the same message again
    again = invoke_mandates(sqs_event(services, notification))
    # Then nothing fails and nothing changes
    assert again == {"batchItemFailures": []}
    assert len(services.inbound_files.arrivals("avtalegiro_mandates")) == 1
    assert mandates.mandate(kid) == mandate


def test_a_file_that_is_no_mandate_file_fails_only_its_own_record(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    # Given a good mandate file and a truncated one in the bucket
    http = Http(api, admin)
    catalog = build_catalog(http)
    body = {"offer_id": catalog.campaign_offer["id"], "payment_method": "avtalegiro", "customer": person()}
    _, order = http.post("/v1/orders", body)
    kid = order["payment"]["kid"]
    bucket = services.settings.documents_bucket
    services.s3.put_object(Bucket=bucket, Key="avtalegiro/mandates/good.txt", Body=mandate_file(kid))
    truncated = b"\n".join(mandate_file(kid).split(b"\n")[:3]) + b"\n"
    services.s3.put_object(Bucket=bucket, Key="avtalegiro/mandates/bad.txt", Body=truncated)
    # When one batch announces both
    response = invoke_mandates(
        sqs_event(
            services,
            s3_notification(services, "avtalegiro/mandates/bad.txt", "avtalegiro/mandates/bad.txt"),
            s3_notification(services, "avtalegiro/mandates/good.txt", "avtalegiro/mandates/good.txt"),
        )
    )
    # Then only the truncated file's message is returned for a retry, and the good one is imported
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    mandate = services.avtalegiro.mandates.mandate(kid)
    assert mandate is not None and mandate.status == MandateStatus.ACTIVE


def test_the_scheduled_run_writes_the_claim_file_once_a_day(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    # Given two AvtaleGiro invoices waiting in the claim index
    invoices = claimed_invoices(services, api, admin, customers=2)
    # When the schedule fires
    summary = invoke_claims(NOW)
    # Then the day's claim file is written with both claims, and there is nothing to delete
    assert summary == {
        "day": "2027-01-01",
        "claims": {
            "status": "written",
            "lines": 2,
            "key": "avtalegiro/outgoing/2027-01-01-7001001.txt",
            "added": 2,
        },
        "deletions": {"status": "empty", "lines": 0, "key": None, "added": 0},
    }
    data = services.s3.get_object(Bucket=services.settings.documents_bucket, Key=summary["claims"]["key"])[
        "Body"
    ].read()
    parsed = parse_claim_file(data)
    assert parsed.kind == FileKind.CLAIMS
    assert sorted((c.kid, c.amount) for c in parsed.transmission.assignments[0].claims) == sorted(
        (i.kid, i.open_amount) for i in invoices
    )
    # When EventBridge fires again the same day (a retry)
    again = invoke_claims(NOW.replace(hour=9))
    # Then the same file stands and nothing more is claimed
    assert again["claims"] == {**summary["claims"], "added": 0}
    submission = services.avtalegiro.claims.submission(NOW.date())
    assert submission is not None and submission.status == SubmissionStatus.WRITTEN
    assert submission.claims == 2
