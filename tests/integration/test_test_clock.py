"""The test clock over HTTP: reading, advancing with scheduled jobs, and refusing bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalice.test import Client

from chalicelib.container import Services, set_services
from infra.local.resources import LocalResources
from tests.conftest import ADMIN_TOKEN, CLOCK_START, make_settings


def test_reads_the_configured_start(api: Client, admin: dict[str, str]) -> None:
    response = api.http.get("/v1/test/clock", headers=admin)
    assert response.status_code == 200
    assert response.json_body == {
        "now": "2027-01-01T08:00:00Z",
        "frozen": True,
        "status": "ready",
        "advancing_to": None,
    }


def test_advancing_runs_the_heartbeat_and_health_turns_ok(
    api: Client, admin: dict[str, str], services: Services
) -> None:
    # Given no heartbeat yet, health is a 503 problem
    assert api.http.get("/health").status_code == 503
    # When the clock moves five minutes (no clock queue here: the advance runs in the request)
    response = api.http.post(
        "/v1/test/clock", headers=admin, body=json.dumps({"advance_to": "2027-01-01T08:05:00+00:00"})
    )
    # Then it answers 200, ready, and the heartbeat (catch-up "latest") ran for the last minute passed
    assert response.status_code == 200, response.body
    assert response.json_body["now"] == "2027-01-01T08:05:00Z"
    assert response.json_body["status"] == "ready"
    assert services.system_store.load_clock().cursors["HeartbeatFunction-EveryMinute"] == datetime(  # type: ignore[union-attr]
        2027, 1, 1, 8, 5, tzinfo=UTC
    )
    health = api.http.get("/health")
    assert health.status_code == 200
    assert health.json_body["scheduler"] == "ok"


def test_an_advance_is_asynchronous_when_a_clock_queue_is_wired(aws: LocalResources) -> None:
    """As in AWS (API Gateway ends a request after 29 s): 202, advancing, then the clock-advance
    function's queue is worked and the clock reads ready."""
    services = Services(make_settings(aws, clock_queue_url=aws.queues["ClockAdvanceQueue"]))
    set_services(services)
    from app import app

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    with Client(app) as api:
        moved = api.http.post("/v1/test/clock", headers=admin, body=json.dumps({"advance_to": "2027-01-04"}))
        assert moved.status_code == 202, moved.body
        assert moved.json_body["status"] == "advancing"
        assert moved.json_body["advancing_to"] == "2027-01-03T23:00:00Z"
        # A second advance while the first runs is refused, and changes nothing
        again = api.http.post("/v1/test/clock", headers=admin, body=json.dumps({"advance_to": "2027-01-09"}))
        assert again.status_code == 409
        assert again.json_body["type"].endswith("/clock-advancing")
        assert api.http.get("/v1/test/clock", headers=admin).json_body["status"] == "advancing"
        # When the queue is worked (the local stack's poller, Lambda's event-source mapping in AWS)
        assert services.drainer.drain() >= 1
        ready = api.http.get("/v1/test/clock", headers=admin).json_body
    set_services(None)
    # Then the clock is where it was sent, and each day's invoice run ran once
    assert ready == {"now": "2027-01-03T23:00:00Z", "frozen": True, "status": "ready", "advancing_to": None}
    cursors = services.system_store.load_clock().cursors  # type: ignore[union-attr]
    assert cursors["InvoiceRunFunction-Daily"] == datetime(2027, 1, 3, 1, 0, tzinfo=UTC)


def test_a_date_means_midnight_in_oslo(api: Client, admin: dict[str, str]) -> None:
    response = api.http.post("/v1/test/clock", headers=admin, body=json.dumps({"advance_to": "2027-02-01"}))
    assert response.status_code == 200, response.body
    assert response.json_body["now"] == "2027-01-31T23:00:00Z"


def test_refuses_to_move_backwards_and_changes_nothing(api: Client, admin: dict[str, str]) -> None:
    response = api.http.post(
        "/v1/test/clock", headers=admin, body=json.dumps({"advance_to": "2026-12-31T00:00:00+00:00"})
    )
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json_body["type"].endswith("/clock-moves-backwards")
    assert api.http.get("/v1/test/clock", headers=admin).json_body["now"] == CLOCK_START.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_bad_input_is_a_problem(api: Client, admin: dict[str, str]) -> None:
    cases = {
        b"not json": 400,
        b"": 400,
        b"[]": 422,
        b'{"advance_to": "yesterday"}': 422,
        b'{"advance_to": 12}': 422,
        b'{"advance_to": "2027-01-02T00:00:00"}': 422,  # no offset: ambiguous
        b'{"advance_to": "2027-01-02", "extra": 1}': 422,
        b'{"advance_to": "2027-02-30"}': 422,
    }
    for body, status in cases.items():
        response = api.http.post("/v1/test/clock", headers=admin, body=body)
        assert response.status_code == status, (body, response.body)
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.json_body
        assert {"type", "title", "status", "detail"} <= set(problem)
        if status == 422:
            assert problem["errors"], body
    assert api.http.get("/v1/test/clock", headers=admin).json_body["now"] == "2027-01-01T08:00:00Z"


def test_wrong_media_type_is_415(api: Client, admin: dict[str, str]) -> None:
    headers = {**admin, "Content-Type": "text/plain"}
    response = api.http.post("/v1/test/clock", headers=headers, body=b'{"advance_to": "2027-02-01"}')
    assert response.status_code == 415


def test_needs_the_admin_token(api: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = api.http.get("/v1/test/clock", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_each_empty_day_an_advance_crosses_costs_at_most_ten_aws_requests(services: Services) -> None:
    """274 requests a day before the due index: every run fanned out its shards and every moment drained
    every queue. Now each daily job reads its due entries once and a moment that queued nothing is settled
    without asking SQS; the clock item is written once per day."""
    from infra.awscalls import count_aws_requests, install

    install()
    start = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    services.clock_service.advance(start + timedelta(minutes=1))  # every schedule has run once
    with count_aws_requests() as one_day:
        services.clock_service.advance(start + timedelta(days=1))
    with count_aws_requests() as week:
        services.clock_service.advance(start + timedelta(days=8))
    assert (week.total - one_day.total) / 6 <= 10, (one_day.by_operation(), week.by_operation())
    assert one_day.count(service="sqs") == 0
