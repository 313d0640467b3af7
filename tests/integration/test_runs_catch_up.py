"""Runs that catch up and say when they are late: a day whose invoice run failed is invoiced by the next
run, and /health names the run while its work is left undone.

Before the due index, each day's run planned only its own business date: a failed day was never invoiced.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.container import Services
from chalicelib.flows.invoice_run import InvoiceRun
from chalicelib.store.documents import DocumentItem
from chalicelib.store.due import INVOICE_RUN, due_partitions
from tests.integration.test_invoice_run import place
from tests.support.catalog import Catalog, Http, build_catalog


@pytest.fixture
def catalog(api: Client, admin: dict[str, str]) -> Iterator[Catalog]:
    yield build_catalog(Http(api, admin))


def invoice_numbers(services: Services) -> list[tuple[int, date]]:
    """(number, invoice date) of every issued invoice (a test-only scan)."""
    found = [
        item.document(Invoice)
        for item in DocumentItem.scan(DocumentItem.kind == "invoice")
        if item.status == InvoiceStatus.ISSUED
    ]
    return sorted((i.number or 0, i.invoice_date) for i in found if i.kind == InvoiceKind.INVOICE)


def test_a_failed_day_is_invoiced_by_the_next_run_and_health_says_it_is_late(
    services: Services, catalog: Catalog, api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a subscription whose February invoice is due to be issued on 18 January
    place(services, catalog.invoice_offer["id"], 1)
    assert due_partitions(INVOICE_RUN, date(2027, 1, 18))[0][0] == date(2027, 1, 18)
    # And the invoice run's workers fail on the 18th, 19th and 20th: each work item is received five times,
    # then parked in the dead-letter queue (whose alarm tells the operator)
    original = InvoiceRun.work

    def failing(self: InvoiceRun, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB was down all day")

    monkeypatch.setattr(InvoiceRun, "work", failing)
    services.clock_service.advance(datetime(2027, 1, 20, 12, 0, tzinfo=UTC))
    assert invoice_numbers(services) == [(1, date(2027, 1, 1))]
    # Then health stays up but says the invoice run is late since the 18th
    health = api.http.get("/health")
    assert health.status_code == 200, health.body
    assert health.json_body["runs"]["invoice"] == "late since 2027-01-18"
    assert health.json_body["runs"]["dunning"] == "ok"
    # When the workers are back, the next day's run catches the 18th up
    monkeypatch.setattr(InvoiceRun, "work", original)
    services.clock_service.advance(datetime(2027, 1, 21, 12, 0, tzinfo=UTC))
    assert invoice_numbers(services) == [(1, date(2027, 1, 1)), (2, date(2027, 1, 21))]
    assert api.http.get("/health").json_body["runs"]["invoice"] == "ok"
