"""Scenario tests speak HTTP to a whole local stack (moto, API, scheduler, SQS pollers, drop folder)
started in this process on free ports, with the test clock frozen on 1 January 2027."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.stack import LocalStack, StackSettings
from tests.support.idempotency import fresh_key

ADMIN_TOKEN = "scenario-admin-token"


@dataclass
class Api:
    """requests against the stack's API with the admin token."""

    base_url: str

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        return headers | ({"Idempotency-Key": key} if key else {})

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base_url + path, headers=self._headers(None), timeout=60)

    def post(self, path: str, body: Any, key: str | None = None) -> requests.Response:
        """POST with an Idempotency-Key: ``key`` (the same key replays), a fresh one when None, none
        when ``NO_KEY`` (tests/support/idempotency.py)."""
        sent = fresh_key() if key is None else key
        return requests.post(
            self.base_url + path, headers=self._headers(sent), data=json.dumps(body), timeout=300
        )

    def created(self, path: str, body: Any) -> dict[str, Any]:
        response = self.post(path, body)
        assert response.status_code == 201, (path, response.status_code, response.text)
        return dict(response.json())


@pytest.fixture(scope="module")
def payment_simulators() -> bool:
    """Whether the stack runs the Vipps and Stripe simulators (tests/scenario/payments turns them on)."""
    return False


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, payment_simulators: bool
) -> Iterator[LocalStack]:
    """One local stack per scenario module, really empty, with a frozen clock (at 2027-01-01 08:00 UTC, or
    where the module's ``pytestmark = pytest.mark.clock_start(...)`` says: no empty months to live through).

    moto keeps its data in the process, and a pytest-xdist worker runs several modules one after another:
    without the reset a module would see the previous module's catalog, documents and test clock."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()
    with pytest.MonkeyPatch.context() as patch:
        marker = request.node.get_closest_marker("clock_start")
        patch.setenv("ABO_CLOCK_START", marker.args[0] if marker else "2027-01-01T08:00:00+00:00")
        patch.setenv("ABO_CLOCK_FROZEN", "true")
        settings = StackSettings(
            port=0,  # the stack binds free ports and keeps them
            aws_port=0,
            var_dir=Path(tmp_path_factory.mktemp("var")),
            admin_token=ADMIN_TOKEN,
            seed_demo_catalog=False,
            scheduler_interval_seconds=0.5,
            payment_simulators=payment_simulators,
        )
        local = LocalStack(settings)
        local.start()
        try:
            yield local
        finally:
            local.stop()


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Api:
    """The stack's API."""
    return Api(stack.api_url)
