"""Advancing the test clock over HTTP as a client of the asynchronous contract: POST, then read the clock
until its status is ``ready``."""

from __future__ import annotations

import time
from typing import Any, Protocol

import requests

SETTLE_SECONDS = 600.0
POLL_SECONDS = 0.05


class HttpApi(Protocol):
    """The scenario suite's API client."""

    def get(self, path: str) -> requests.Response: ...

    def post(self, path: str, body: Any, key: str | None = None) -> requests.Response: ...


def advance_clock(api: HttpApi, target: str) -> dict[str, Any]:
    """Move the clock to ``target`` (an ISO instant or date) and wait until every job it ran has settled;
    returns the ready clock."""
    moved = api.post("/v1/test/clock", {"advance_to": target})
    assert moved.status_code in (200, 202), moved.text
    reading: dict[str, Any] = moved.json()
    deadline = time.monotonic() + SETTLE_SECONDS
    while reading["status"] != "ready":
        assert time.monotonic() < deadline, f"the clock is still advancing: {reading}"
        time.sleep(POLL_SECONDS)
        response = api.get("/v1/test/clock")
        assert response.status_code == 200, response.text
        reading = response.json()
    return reading
