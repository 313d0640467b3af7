"""Schemathesis against the generated OpenAPI document, over HTTP to the local stack: whatever it sends,
no route answers 5xx, and every 4xx is problem JSON. Runs with and without the admin token."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from chalicelib.api.blueprints import cached_document
from infra.local.stack import LocalStack
from tests.scenario.conftest import ADMIN_TOKEN

DOCUMENT = cached_document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case: Any, stack: LocalStack) -> None:
    if case.method.lower() not in DOCUMENT["paths"].get(case.path, {}):
        # Undocumented methods are answered by the HTTP server in front (Chalice's dev server locally,
        # API Gateway with problem-JSON gateway responses in AWS), never by a route of ours.
        return
    if case.path == "/v1/test/clock" and case.method == "POST":
        return  # moving the shared clock would run jobs for years; its bad input has its own tests
    response = case.call(
        base_url=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
    if response.status_code >= 400:
        media_type = (response.headers.get("content-type") or [""])[0]
        assert media_type == "application/problem+json", (case.method, case.path, response.text[:300])
        problem = response.json()
        assert {"type", "title", "status", "detail"} <= set(problem)
