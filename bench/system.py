"""Operations of the platform's own plumbing: health, the test clock, and an OCR file drop."""

from __future__ import annotations

import json
from datetime import timedelta

from bench.stack import ADMIN_HEADERS, CLOCK_START, Action, Deployment, expect, operation


def _advance(deployment: Deployment, to: str) -> None:
    """The request (202: queued), then the clock-advance function's work, in process."""
    body = json.dumps({"advance_to": to})
    expect(deployment.api.http.post("/v1/test/clock", headers=ADMIN_HEADERS, body=body), 202)
    deployment.services.clock_service.work_advance()


@operation("GET /health", runs=30, order=10)
def health(deployment: Deployment) -> Action:
    """A healthy platform: a heartbeat has been recorded first."""
    _advance(deployment, (CLOCK_START + timedelta(minutes=1)).isoformat())
    return lambda _: expect(deployment.api.http.get("/health"), 200)


@operation("GET /v1/test/clock", runs=30, order=20)
def read_clock(deployment: Deployment) -> Action:
    """Reading a clock that has been stored."""
    _advance(deployment, (CLOCK_START + timedelta(minutes=1)).isoformat())
    return lambda _: expect(deployment.api.http.get("/v1/test/clock", headers=ADMIN_HEADERS), 200)


@operation("POST /v1/test/clock (+1 day)", runs=15, order=30)
def advance_clock(deployment: Deployment) -> Action:
    """Each run moves the clock one more day; every schedule has run once before."""
    _advance(deployment, (CLOCK_START + timedelta(minutes=1)).isoformat())
    return lambda index: _advance(deployment, (CLOCK_START + timedelta(days=index + 1)).isoformat())


@operation("S3 OCR drop → drain", runs=15, order=40)
def ocr_drop(deployment: Deployment) -> Action:
    """A bank's OCR file put under ocr/ and the queue drained until its arrival is recorded."""
    bucket = deployment.resources.buckets["DocumentsBucket"]
    deployment.services.drainer.drain()  # S3's test event, queued when the notification was configured

    def drop(index: int) -> None:
        services = deployment.services
        services.s3.put_object(Bucket=bucket, Key=f"ocr/bench-{index}.txt", Body=b"NY000010" + b"0" * 72)
        if services.drainer.drain() != 1:
            raise RuntimeError("the drop was not delivered as exactly one message")

    return drop
