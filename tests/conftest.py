"""Fixtures shared by every layer: a moto server per session, the template's resources per test, the
platform's services bound to them, and Chalice's in-process HTTP client, whose POSTs carry a fresh
Idempotency-Key unless the test names one (tests/support/idempotency.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services, set_services
from chalicelib.settings import Settings
from infra.local.resources import LocalResources
from tests.support.aws import REGION, fresh_resources, moto_server
from tests.support.idempotency import automatic_idempotency_keys

ADMIN_TOKEN = "test-admin-token"
CLOCK_START = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def idempotency_keys() -> Iterator[None]:
    """Every POST through Chalice's test client, wherever the client is made, gets a fresh
    Idempotency-Key unless it names one; ``without_idempotency_keys()`` sends none."""
    with automatic_idempotency_keys():
        yield


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session; every AWS client in the process points at it."""
    with moto_server() as endpoint, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("AWS_REGION", REGION)
        patch.setenv("POWERTOOLS_METRICS_NAMESPACE", "AboTest")
        patch.setenv("POWERTOOLS_DEV", "false")
        patch.delenv("AWS_PROFILE", raising=False)
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str) -> LocalResources:
    """An empty emulator holding exactly the template's tables, bucket and queues."""
    return fresh_resources(moto_endpoint)


def make_settings(resources: LocalResources, **overrides: Any) -> Settings:
    """Settings pointing at ``resources``, with a frozen test clock."""
    values: dict[str, Any] = {
        "stage": "test",
        "region": REGION,
        "main_table": resources.tables["MainTable"],
        "idempotency_table": resources.tables["IdempotencyTable"],
        "documents_bucket": resources.buckets["DocumentsBucket"],
        "draft_rebuild_queue_url": resources.queues["DraftRebuildQueue"],
        "invoice_run_queue_url": resources.queues["InvoiceRunQueue"],
        "dunning_queue_url": resources.queues["DunningRunQueue"],
        "notification_queue_url": resources.queues["NotificationQueue"],
        "admin_token": ADMIN_TOKEN,
        "clock_start": CLOCK_START,
        "clock_frozen": True,
        "template_path": os.path.join(os.path.dirname(os.path.dirname(__file__)), "template.yaml"),
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
def clock_start(request: pytest.FixtureRequest) -> datetime:
    """Where the test clock starts: ``@pytest.mark.clock_start("2027-03-25T08:00:00+00:00")`` moves it.

    Advancing the clock runs every scheduled job of every day in between, so a test about April that
    started in January spent most of its time on three empty months."""
    marker = request.node.get_closest_marker("clock_start")
    return datetime.fromisoformat(marker.args[0]) if marker is not None else CLOCK_START


@pytest.fixture
def services(aws: LocalResources, clock_start: datetime) -> Iterator[Services]:
    """The platform's services bound to the test emulator."""
    built = Services(make_settings(aws, clock_start=clock_start))
    # SES sends only from a verified address; the notification queue's consumer sends from this one.
    built.ses.verify_email_identity(EmailAddress=built.settings.notification_from_address)
    set_services(built)
    yield built
    set_services(None)


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    """Chalice's in-process client for app.py."""
    from app import app

    with Client(app) as client:
        yield client


@pytest.fixture
def admin() -> dict[str, str]:
    """Headers of an authenticated administrator sending JSON."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
