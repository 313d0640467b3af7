"""The invoice run: renewals issued on their invoice date, exactly once, whatever crashes or races."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from chalice.test import Client

from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.container import Services
from chalicelib.customers.models import CustomerType
from chalicelib.orders.models import CustomerDetails, OrderRequest
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem
from chalicelib.store.due import INVOICE_RUN, due_partitions
from chalicelib.subscriptions.writes import renewal_shard
from chalicelib.values import PaymentMethod
from infra.awscalls import InjectedCrash, fail_at_call, install
from tests.support.aws import fresh_resources
from tests.support.catalog import Catalog, Http, build_catalog, reminder_only_plan

RUN_MOMENT = datetime(2027, 1, 18, 1, 0, tzinfo=UTC)  # the daily run's schedule: 01:00 UTC


@pytest.fixture
def catalog(api: Client, admin: dict[str, str]) -> Iterator[Catalog]:
    http = Http(api, admin)
    built = build_catalog(http)
    http.created("/v1/dunning-plans", reminder_only_plan(built.seller["id"]))
    yield built


def place(services: Services, offer_id: str, n: int) -> str:
    return services.orders.place(
        OrderRequest(
            offer_id=offer_id,
            payment_method=PaymentMethod.INVOICE,
            customer=CustomerDetails(
                type=CustomerType.PERSON, name=f"Kunde {n}", email=f"kunde{n}@example.no"
            ),
        )
    ).subscription_id


def issued_invoices(services: Services) -> list[Invoice]:
    """Every issued invoice in the table (a test-only scan)."""
    return sorted(
        (
            item.document(Invoice)
            for item in DocumentItem.scan(DocumentItem.kind == "invoice")
            if item.status == InvoiceStatus.ISSUED
        ),
        key=lambda invoice: invoice.number or 0,
    )


def test_a_renewal_is_issued_on_its_invoice_date(services: Services, catalog: Catalog) -> None:
    subscription_id = place(services, catalog.invoice_offer["id"], 1)
    # Nothing is due on 17 January; February's invoice is due to be issued on the 18th (14 days ahead)
    services.clock_service.advance(datetime(2027, 1, 17, 12, 0, tzinfo=UTC))
    assert [invoice.number for invoice in issued_invoices(services)] == [1]
    services.clock_service.advance(datetime(2027, 1, 18, 12, 0, tzinfo=UTC))
    invoices = issued_invoices(services)
    assert [invoice.number for invoice in invoices] == [1, 2]
    february = invoices[1]
    assert february.subscription_id == subscription_id
    assert (february.period.start, february.period.end) == (date(2027, 2, 1), date(2027, 3, 1))  # type: ignore[union-attr]
    assert (february.invoice_date, february.due_date) == (date(2027, 1, 18), date(2027, 2, 1))
    assert february.totals.gross == 29900
    assert february.kid and february.kid.endswith(f"{2:08d}" + february.kid[-1])
    # And March is drafted, to be issued on 15 February
    view = services.subscriptions.subscription(subscription_id)
    assert view.draft is not None
    assert (view.draft.period.start, view.draft.invoice_date) == (date(2027, 3, 1), date(2027, 2, 15))  # type: ignore[union-attr]


def test_a_campaign_runs_out_into_the_list_price(services: Services, catalog: Catalog) -> None:
    place(services, catalog.campaign_offer["id"], 1)
    services.clock_service.advance(datetime(2027, 4, 20, tzinfo=UTC))
    amounts = [(invoice.period.start, invoice.totals.gross) for invoice in issued_invoices(services)]  # type: ignore[union-attr]
    assert amounts == [
        (date(2027, 1, 1), 3300),
        (date(2027, 2, 1), 3300),
        (date(2027, 3, 1), 3300),
        (date(2027, 4, 1), 29900),
        (date(2027, 5, 1), 29900),
    ]


def test_running_twice_issues_nothing_more(services: Services, catalog: Catalog) -> None:
    for n in range(30):
        place(services, catalog.invoice_offer["id"], n)
    services.clock_service.advance(RUN_MOMENT)
    first = [invoice.id for invoice in issued_invoices(services)]
    assert len(first) == 60
    services.invoice_run.plan(date(2027, 1, 18))
    services.drainer.drain()
    assert [invoice.id for invoice in issued_invoices(services)] == first


def test_a_crash_at_any_aws_call_then_a_rerun_leaves_one_invoice_per_period(
    services: Services, moto_endpoint: str, api: Client, admin: dict[str, str]
) -> None:
    install()
    run_date = date(2027, 1, 18)

    def fresh_world() -> None:
        fresh_resources(moto_endpoint)
        catalog = build_catalog(Http(api, admin))
        for n in range(3):
            place(services, catalog.invoice_offer["id"], n)

    def run_all_shards() -> None:
        # What the planner queues: each (day, shard) of the due index with a renewal due by the run date
        for day, shard in due_partitions(INVOICE_RUN, run_date):
            services.invoice_run.work(day, shard, run_date, RUN_MOMENT)

    n = 1
    while True:
        # Given a fresh world, when the run dies at its n-th AWS call and is run again
        fresh_world()
        with fail_at_call(n) as fault, contextlib.suppress(InjectedCrash):
            run_all_shards()
        run_all_shards()
        # Then there is exactly one invoice per subscription and period, numbered without gaps
        invoices = issued_invoices(services)
        assert [invoice.number for invoice in invoices] == list(range(1, 7)), n
        periods = {(invoice.subscription_id, invoice.period.start) for invoice in invoices}  # type: ignore[union-attr]
        assert len(periods) == 6, n
        if not fault.fired:
            break
        n += 1
    assert n > 10  # every call of a run over the due index's partitions and 3 renewals was crashed at once


def test_two_workers_on_the_same_item_issue_once(services: Services, catalog: Catalog) -> None:
    for n in range(20):
        place(services, catalog.invoice_offer["id"], n)
    services.clock_service.advance(datetime(2027, 1, 17, 12, 0, tzinfo=UTC))
    shards = sorted(
        {
            int(item.gsi2pk.rsplit("#", 1)[1])
            for item in DocumentItem.scan(DocumentItem.gsi2pk.startswith("RENEW#2027-01-18"))
            if item.gsi2pk
        }
    )
    from chalicelib.flows.invoice_run import InvoiceRun

    workers = [InvoiceRun(services.documents, services.fees, services.sqs, "") for _ in range(2)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda job: workers[job[0]].work(date(2027, 1, 18), job[1], date(2027, 1, 18), RUN_MOMENT),
                [(w, shard) for shard in shards for w in (0, 1)],
            )
        )
    invoices = issued_invoices(services)
    assert [invoice.number for invoice in invoices] == list(range(1, 41))
    assert len({(i.subscription_id, i.period.start) for i in invoices}) == 40  # type: ignore[union-attr]


def test_the_planner_reads_one_query_and_queues_only_what_is_due(
    services: Services, catalog: Catalog
) -> None:
    from infra.awscalls import count_aws_requests

    install()
    # A day with nothing due: one query of the due index, nothing queued
    with count_aws_requests() as counter:
        assert services.invoice_run.plan(date(2027, 1, 18)) == 0
    assert counter.by_operation() == {"dynamodb.Query": 1}
    # Two renewals due on the 18th: one work item per (day, shard) that holds one, from the same one query
    first = place(services, catalog.invoice_offer["id"], 1)
    second = place(services, catalog.invoice_offer["id"], 2)
    with count_aws_requests() as counter:
        queued = services.invoice_run.plan(date(2027, 1, 18))
    shards = {renewal_shard(first), renewal_shard(second)}
    assert queued == len(shards)
    assert counter.count(service="dynamodb") == 1
    # Nothing is planned before its day
    assert services.invoice_run.plan(date(2027, 1, 17)) == 0


def test_the_renewal_index_holds_what_is_due(services: Services, catalog: Catalog) -> None:
    subscription_id = place(services, catalog.invoice_offer["id"], 1)
    item = services.documents.get(keys.subscription(subscription_id).pk, "SUB")
    assert item is not None
    assert item.gsi2pk is not None
    assert item.gsi2pk.startswith("RENEW#2027-01-18#")
