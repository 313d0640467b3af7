"""The test clock over HTTP: reading, advancing with scheduled jobs, and refusing bad input."""

from __future__ import annotations

import json

from chalice.test import Client

from chalicelib.container import Services
from tests.conftest import CLOCK_START


def test_reads_the_configured_start(api: Client, admin: dict[str, str]) -> None:
    response = api.http.get("/v1/test/clock", headers=admin)
    assert response.status_code == 200
    assert response.json_body == {"now": "2027-01-01T08:00:00Z", "frozen": True}


def test_advancing_runs_the_heartbeat_and_health_turns_ok(
    api: Client, admin: dict[str, str], services: Services
) -> None:
    # Given no heartbeat yet, health is a 503 problem
    assert api.http.get("/health").status_code == 503
    # When the clock moves five minutes
    response = api.http.post(
        "/v1/test/clock", headers=admin, body=json.dumps({"advance_to": "2027-01-01T08:05:00+00:00"})
    )
    # Then the heartbeat (catch-up "latest") ran once, for the last minute passed
    assert response.status_code == 200, response.body
    assert response.json_body["now"] == "2027-01-01T08:05:00Z"
    assert [run["moment"] for run in response.json_body["runs"]] == ["2027-01-01T08:05:00Z"]
    health = api.http.get("/health")
    assert health.status_code == 200
    assert health.json_body["scheduler"] == "ok"


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
