"""Usage billed in arrears: a subscription paid by invoice (renewals issued 14 days ahead) reports API calls
in January. February's invoice is issued on 18 January, before January ends, so January's usage goes on
the next invoice issued after 1 February: March's, issued 15 February, in graduated tiers.

Plan: 100.00 NOK a month + API calls: first 1,000 at 0.10 NOK, next 9,000 at 0.05, beyond at 0.02.
January: 700 + 11,800 = 12,500 calls → 1,000 × 0.10 = 100.00; 9,000 × 0.05 = 450.00; 2,500 × 0.02 = 50.00.

A subscription that ends has no renewal left to carry its last usage: the invoice run of its end date
issues a final invoice with the usage not invoiced yet (prices include 25 % VAT, so net = gross × 4/5):
  stopped at period end on 10 January (ends 1 February), 12,500 calls in January: 600.00 NOK
  (480.00 + 120.00 VAT), issued 1 February, due 15 February;
  stopped now on 14 January (ends 15 January), 1,200 calls: 1,000 × 0.10 + 200 × 0.05 = 110.00 NOK
  (88.00 + 22.00 VAT) for 1–14 January, issued 15 January, due 29 January.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.billing.kid import DEFAULT_KID_LAYOUT
from chalicelib.billing.usage import UsageCounter
from chalicelib.container import Services
from chalicelib.store import keys
from chalicelib.subscriptions.writes import renewal_shard
from tests.support.catalog import SELLER, Http, person, reminder_only_plan


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def metered(http: Http) -> dict[str, Any]:
    seller = http.created("/v1/legal-entities", SELLER)
    http.created("/v1/dunning-plans", reminder_only_plan(seller["id"]))
    base = http.created("/v1/products", {"name": "API", "kind": "service", "vat_rate_code": "standard"})
    calls = http.created(
        "/v1/products",
        {"name": "API calls", "kind": "usage", "vat_rate_code": "standard", "usage_metric": "api.calls"},
    )
    plan = http.created(
        "/v1/plans",
        {
            "name": "API",
            "product_ids": [base["id"]],
            "currency": "NOK",
            "price": {"amount": 10000},
            "period": {"unit": "month", "count": 1},
            "usage": [
                {
                    "product_id": calls["id"],
                    "tiers": [
                        {"up_to": 1000, "unit_price": {"amount": 10}},
                        {"up_to": 10000, "unit_price": {"amount": 5}},
                        {"unit_price": {"amount": 2}},
                    ],
                }
            ],
        },
    )
    assert [t["up_to"] for t in plan["usage"][0]["tiers"]] == [1000, 10000, None]
    offer = http.created(
        "/v1/offers",
        {"name": "API", "plan_id": plan["id"], "payment_methods": ["invoice"], "access": "on_order"},
    )
    placed = http.created(
        "/v1/orders",
        {
            "offer_id": offer["id"],
            "payment_method": "invoice",
            "start_date": "2027-01-01",
            "customer": person(),
        },
    )
    return {"plan": plan, "placed": placed}


def report(http: Http, subscription_id: str, quantity: int, at: str, key: str) -> tuple[int, dict[str, Any]]:
    return http.post(
        "/v1/usage",
        {"subscription_id": subscription_id, "metric": "api.calls", "quantity": quantity, "at": at},
        key=key,
    )


def test_january_usage_is_billed_on_february_in_graduated_tiers_and_counted_once(
    http: Http, services: Services
) -> None:
    made = metered(http)
    sub = made["placed"]["subscription_id"]
    status, first = report(http, sub, 700, "2027-01-05T10:00:00+01:00", "u-1")
    assert status == 201, first
    assert first["period"] == {"start": "2027-01-01", "end": "2027-02-01"}
    assert report(http, sub, 700, "2027-01-05T10:00:00+01:00", "u-1")[1]["period_quantity"] == 700  # replay
    status, second = report(http, sub, 11800, "2027-01-31T23:30:00+01:00", "u-2")
    assert (status, second["period_quantity"]) == (201, 12500)
    # Wrong metric and missing key are clear errors
    assert report(http, sub, 1, "2027-01-06T10:00:00+01:00", "u-3")[0] == 201
    status, problem = http.post(
        "/v1/usage",
        {"subscription_id": sub, "metric": "sms", "quantity": 1, "at": "2027-01-06T10:00:00+01:00"},
        key="u-4",
    )
    assert status == 422, problem
    services.clock_service.advance(datetime(2027, 2, 15, 12, 0, tzinfo=UTC))
    _, page = http.get(f"/v1/customers/{made['placed']['customer_id']}/invoices")
    issued = {i["period"]["start"]: i for i in page["items"] if i["status"] != "draft"}
    assert [ln["kind"] for ln in issued["2027-02-01"]["lines"]] == ["subscription"]
    usage = [
        (ln["quantity"], ln["unit_price"]["amount"], ln["gross"]["amount"])
        for ln in issued["2027-03-01"]["lines"]
        if ln["period"]["start"] == "2027-01-01"
    ]
    # 12,501 calls (the extra one from u-3): 1,000 x 0.10, 9,000 x 0.05, 2,501 x 0.02 (VAT included)
    assert usage == [(1000, 10, 10000), (9000, 5, 45000), (2501, 2, 5002)]
    # January is invoiced: a late report for it is refused
    status, late = report(http, sub, 5, "2027-01-20T10:00:00+01:00", "u-late")
    assert status == 409, late


def documents_of(http: Http, customer_id: str) -> list[dict[str, Any]]:
    """The customer's numbered invoices and credit notes, in number order."""
    _, page = http.get(f"/v1/customers/{customer_id}/invoices")
    return sorted((i for i in page["items"] if i["number"]), key=lambda i: i["number"])


def finals_of(http: Http, customer_id: str) -> list[dict[str, Any]]:
    return [i for i in documents_of(http, customer_id) if i["id"].endswith("_final")]


def usage_of(invoice: dict[str, Any]) -> list[tuple[int, int, int, int, int, str, str]]:
    """(quantity, unit price, net, VAT, gross, period start, period end) of each usage line."""
    return [
        (
            ln["quantity"],
            ln["unit_price"]["amount"],
            ln["net"]["amount"],
            ln["vat"]["amount"],
            ln["gross"]["amount"],
            ln["period"]["start"],
            ln["period"]["end"],
        )
        for ln in invoice["lines"]
    ]


def counter_of(services: Services, subscription_id: str, period_start: date) -> UsageCounter:
    where = keys.usage_counter(subscription_id, period_start, "api.calls")
    counter = services.documents.get_document(where.pk, where.sk, UsageCounter)
    assert counter is not None
    return counter


def in_renewal_index(services: Services, subscription_id: str) -> str | None:
    item = services.documents.get(keys.subscription(subscription_id).pk, "SUB")
    assert item is not None
    return item.gsi2pk


def test_a_stop_at_period_end_puts_the_last_periods_usage_on_a_final_invoice_on_the_end_date(
    http: Http, services: Services
) -> None:
    made = metered(http)
    sub, customer = made["placed"]["subscription_id"], made["placed"]["customer_id"]
    services.clock_service.advance(datetime(2027, 1, 10, 12, 0, tzinfo=UTC))
    assert report(http, sub, 700, "2027-01-05T10:00:00+01:00", "u-1")[0] == 201
    status, stopped = http.post(f"/v1/subscriptions/{sub}/stop", {})
    assert (status, stopped["ends_on"]) == (200, "2027-02-01"), stopped
    # Usage goes on until the end: the last evening of January, Oslo time
    services.clock_service.advance(datetime(2027, 1, 31, 22, 45, tzinfo=UTC))
    assert report(http, sub, 11800, "2027-01-31T23:30:00+01:00", "u-2")[1]["period_quantity"] == 12500
    assert finals_of(http, customer) == []  # no renewal for February (stopped), and January has not ended
    assert in_renewal_index(services, sub) == f"RENEW#2027-02-01#{renewal_shard(sub):02d}"
    # The run of 1 February (01:00 UTC) issues the final invoice
    services.clock_service.advance(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    [final] = finals_of(http, customer)
    # 12,500 calls: 1,000 x 0.10 + 9,000 x 0.05 + 2,500 x 0.02 = 600.00 NOK, VAT included
    assert usage_of(final) == [
        (1000, 10, 8000, 2000, 10000, "2027-01-01", "2027-02-01"),
        (9000, 5, 36000, 9000, 45000, "2027-01-01", "2027-02-01"),
        (2500, 2, 4000, 1000, 5000, "2027-01-01", "2027-02-01"),
    ]
    assert [ln["kind"] for ln in final["lines"]] == ["usage"] * 3
    assert (final["totals"]["net"]["amount"], final["totals"]["vat"]["amount"]) == (48000, 12000)
    assert final["totals"]["gross"] == {"amount": 60000, "currency": "NOK"}
    assert (final["issue_date"], final["due_date"], final["status"]) == (
        "2027-02-01",
        "2027-02-15",
        "issued",
    )
    assert final["payment_method"] == "invoice"
    # Numbered next in the one series (January's invoice was 1), with its KID
    assert [i["number"] for i in documents_of(http, customer)] == [1, 2]
    assert final["number"] == 2 and DEFAULT_KID_LAYOUT.parse(final["kid"]).invoice_number == 2
    ledger = http.get(f"/v1/customers/{customer}/ledger")[1]
    assert ledger["balance"] == {"amount": 10000 + 60000, "currency": "NOK"}
    # The counter is marked, the subscription has left the index, and late or after-end reports are refused
    counter = counter_of(services, sub, date(2027, 1, 1))
    assert (counter.quantity, counter.invoice_id) == (12500, final["id"])
    assert in_renewal_index(services, sub) is None
    status, late = report(http, sub, 5, "2027-01-20T10:00:00+01:00", "u-late")
    assert (status, late["type"].rsplit("/", 1)[-1]) == (409, "conflict"), late
    status, after = report(http, sub, 5, "2027-02-01T10:00:00+01:00", "u-after")
    assert status == 422, after
    # Nothing more follows (March would have been issued on 15 February)
    services.clock_service.advance(datetime(2027, 2, 20, tzinfo=UTC))
    assert [i["number"] for i in documents_of(http, customer)] == [1, 2]


def test_a_stop_now_in_the_middle_of_a_period_invoices_the_usage_up_to_the_stop(
    http: Http, services: Services
) -> None:
    made = metered(http)
    sub, customer = made["placed"]["subscription_id"], made["placed"]["customer_id"]
    services.clock_service.advance(datetime(2027, 1, 14, 10, 0, tzinfo=UTC))
    assert report(http, sub, 700, "2027-01-05T10:00:00+01:00", "u-1")[0] == 201
    assert report(http, sub, 500, "2027-01-14T09:00:00+01:00", "u-2")[1]["period_quantity"] == 1200
    status, stopped = http.post(f"/v1/subscriptions/{sub}/stop", {"effective": "now"})
    assert (status, stopped["ends_on"]) == (200, "2027-01-15"), stopped
    # The stop restates January (unpaid: credited in full, the 14 days used invoiced again): 1, 2, 3
    assert [i["number"] for i in documents_of(http, customer)] == [1, 2, 3]
    # The 15th is after the end: refused (no billing period then)
    status, after = report(http, sub, 1, "2027-01-15T10:00:00+01:00", "u-after")
    assert (status, after["errors"][0]["code"]) == (422, "no_period"), after
    services.clock_service.advance(datetime(2027, 1, 15, 12, 0, tzinfo=UTC))
    [final] = finals_of(http, customer)
    # 1,200 calls on 1-14 January: 1,000 x 0.10 + 200 x 0.05 = 110.00 NOK, VAT included
    assert usage_of(final) == [
        (1000, 10, 8000, 2000, 10000, "2027-01-01", "2027-01-15"),
        (200, 5, 800, 200, 1000, "2027-01-01", "2027-01-15"),
    ]
    assert final["totals"]["gross"] == {"amount": 11000, "currency": "NOK"}
    assert final["period"] == {"start": "2027-01-01", "end": "2027-01-15"}
    assert (final["issue_date"], final["due_date"], final["number"]) == ("2027-01-15", "2027-01-29", 4)
    status, late = report(http, sub, 5, "2027-01-14T10:00:00+01:00", "u-late")
    assert status == 409, late


def test_a_stopped_subscription_without_usage_in_its_last_period_gets_no_final_invoice(
    http: Http, services: Services
) -> None:
    made = metered(http)
    sub, customer = made["placed"]["subscription_id"], made["placed"]["customer_id"]
    services.clock_service.advance(datetime(2027, 1, 14, 10, 0, tzinfo=UTC))
    assert http.post(f"/v1/subscriptions/{sub}/stop", {"effective": "now"})[0] == 200
    assert in_renewal_index(services, sub) == f"RENEW#2027-01-15#{renewal_shard(sub):02d}"
    services.clock_service.advance(datetime(2027, 1, 16, 12, 0, tzinfo=UTC))
    # Only the order's invoice and the stop's credit note and invoice: no (empty) final invoice
    assert finals_of(http, customer) == []
    assert [i["number"] for i in documents_of(http, customer)] == [1, 2, 3]
    assert in_renewal_index(services, sub) is None
    # Its usage is closed: a report for a day it still ran is refused now, with a problem saying why
    status, late = report(http, sub, 5, "2027-01-10T10:00:00+01:00", "u-late")
    assert status == 409, late
    assert "2027-01-15" in late["detail"]


def test_running_the_end_dates_invoice_run_again_leaves_one_final_invoice(
    http: Http, services: Services
) -> None:
    made = metered(http)
    sub, customer = made["placed"]["subscription_id"], made["placed"]["customer_id"]
    services.clock_service.advance(datetime(2027, 1, 14, 10, 0, tzinfo=UTC))
    assert report(http, sub, 300, "2027-01-05T10:00:00+01:00", "u-1")[0] == 201
    assert http.post(f"/v1/subscriptions/{sub}/stop", {"effective": "now"})[0] == 200
    end, moment = date(2027, 1, 15), datetime(2027, 1, 15, 1, 0, tzinfo=UTC)
    # Two workers on the same work item at once, then the scheduled run, then the whole run again
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: services.invoice_run.work(end, renewal_shard(sub), end, moment), range(2)))
    services.clock_service.advance(datetime(2027, 1, 15, 12, 0, tzinfo=UTC))
    services.invoice_run.plan(end)
    services.drainer.drain()
    [final] = finals_of(http, customer)
    # 300 calls x 0.10 = 30.00 NOK, VAT included
    assert usage_of(final) == [(300, 10, 2400, 600, 3000, "2027-01-01", "2027-01-15")]
    assert counter_of(services, sub, date(2027, 1, 1)).invoice_id == final["id"]
    assert [i["number"] for i in documents_of(http, customer)] == [1, 2, 3, 4]
    ledger = http.get(f"/v1/customers/{customer}/ledger")[1]
    restated = documents_of(http, customer)[2]["totals"]["gross"]["amount"]
    assert ledger["balance"] == {"amount": restated + 3000, "currency": "NOK"}


def test_a_late_report_that_races_the_final_run_is_invoiced_or_refused_never_lost(
    http: Http, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = metered(http)
    sub, customer = made["placed"]["subscription_id"], made["placed"]["customer_id"]
    services.clock_service.advance(datetime(2027, 1, 14, 10, 0, tzinfo=UTC))
    assert http.post(f"/v1/subscriptions/{sub}/stop", {"effective": "now"})[0] == 200
    # The run reads the counters (none: it would only take the subscription out of the index), and a
    # report for 10 January, sent late, lands before the run writes
    run = services.invoice_run
    read_counters = run._usage_counters
    late: list[tuple[int, dict[str, Any]]] = []

    def counters_then_a_late_report(subscription_id: str) -> list[tuple[UsageCounter, int]]:
        counted = read_counters(subscription_id)
        if not late:
            late.append(report(http, sub, 40, "2027-01-10T10:00:00+01:00", "u-late"))
        return counted

    monkeypatch.setattr(run, "_usage_counters", counters_then_a_late_report)
    end = date(2027, 1, 15)
    done = run.work(end, renewal_shard(sub), end, datetime(2027, 1, 15, 1, 0, tzinfo=UTC))
    [(status, accepted)] = late
    assert (status, accepted["period_quantity"]) == (201, 40), accepted
    # The run's write failed on the subscription's version; from fresh reads it invoiced the report
    assert (done.retried_singly, done.closed) == (1, 0)
    [final] = finals_of(http, customer)
    assert done.issued == [final["id"]]
    # 40 calls x 0.10 = 4.00 NOK, VAT included
    assert usage_of(final) == [(40, 10, 320, 80, 400, "2027-01-01", "2027-01-15")]
    assert in_renewal_index(services, sub) is None
