"""Plan and quantity changes, pauses and resumes, with the money they move (euro examples, to the cent)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from tests.integration.test_stops import credit_notes_of, order, pay
from tests.support.catalog import SELLER, Http, reminder_only_plan

# Every example is about April: start the clock days before it, not in January.
pytestmark = pytest.mark.clock_start("2027-03-28T08:00:00+00:00")


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def catalog(http: Http, **plan: Any) -> dict[str, str]:
    """A 90.00 EUR and a 150.00 EUR monthly plan of one product, and an offer of the first."""
    seller = http.created("/v1/legal-entities", SELLER)
    http.created("/v1/dunning-plans", reminder_only_plan(seller["id"]))
    product = http.created("/v1/products", {"name": "Nordavisa", "kind": "digital", "vat_rate_code": "news"})
    plans = {}
    for name, price in (("basic", 9000), ("plus", 15000)):
        plans[name] = http.created(
            "/v1/plans",
            {
                "name": name,
                "product_ids": [product["id"]],
                "currency": "EUR",
                "price": {"amount": price},
                "period": {"unit": "month", "count": 1},
                **plan,
            },
        )["id"]
    offer = http.created(
        "/v1/offers",
        {"name": "basic", "plan_id": plans["basic"], "payment_methods": ["invoice"], "access": "on_order"},
    )
    return {**plans, "offer": offer["id"]}


def other_invoices(http: Http, placed: dict[str, Any]) -> list[dict[str, Any]]:
    _, page = http.get(f"/v1/customers/{placed['customer_id']}/invoices")
    return [
        i
        for i in page["items"]
        if i["kind"] == "invoice" and i["status"] != "draft" and i["id"] != placed["invoice_id"]
    ]


def lines_of(invoice: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(ln["period"]["start"], ln["period"]["end"], ln["gross"]["amount"]) for ln in invoice["lines"]]


def test_an_upgrade_on_the_10th_of_a_paid_april_credits_20_days_and_charges_them_on_the_new_plan(
    http: Http, services: Services
) -> None:
    ids = catalog(http)
    placed = order(http, ids["offer"], "2027-04-01")
    pay(services, http.get(f"/v1/invoices/{placed['invoice_id']}")[1])
    services.clock_service.advance(datetime(2027, 4, 10, 9, 0, tzinfo=UTC))
    status, changed = http.post(
        f"/v1/subscriptions/{placed['subscription_id']}/change", {"plan_id": ids["plus"], "effective": "now"}
    )
    assert status == 200, changed
    assert changed["plan_id"] == ids["basic"]  # today is used on the old plan; the new one starts tomorrow
    credits = credit_notes_of(http, placed["customer_id"])
    assert [(c["credited_invoice_id"], c["totals"]["gross"]["amount"]) for c in credits] == [
        (placed["invoice_id"], -6000)  # 20/30 x 90.00
    ]
    [charged] = other_invoices(http, placed)
    assert lines_of(charged) == [("2027-04-11", "2027-05-01", 10000)]  # 20/30 x 150.00
    # The 60.00 credit paid most of it at once: 40.00 left to pay
    assert charged["open_amount"]["amount"] == 4000
    ledger = http.get(f"/v1/customers/{placed['customer_id']}/ledger")[1]
    assert ledger["balance"] == {"amount": 4000, "currency": "EUR"}
    # May is drafted on the new plan, for the whole month
    assert lines_of(changed["next_invoice"]) == [("2027-05-01", "2027-06-01", 15000)]
    services.clock_service.advance(datetime(2027, 4, 11, 9, 0, tzinfo=UTC))
    assert http.get(f"/v1/subscriptions/{placed['subscription_id']}")[1]["plan_id"] == ids["plus"]


def test_a_quantity_change_at_period_end_moves_no_money_now(http: Http, services: Services) -> None:
    ids = catalog(http)
    placed = order(http, ids["offer"], "2027-04-01")
    services.clock_service.advance(datetime(2027, 4, 10, 9, 0, tzinfo=UTC))
    status, changed = http.post(
        f"/v1/subscriptions/{placed['subscription_id']}/change", {"quantity": 3, "effective": "period_end"}
    )
    assert status == 200, changed
    assert credit_notes_of(http, placed["customer_id"]) == []
    assert other_invoices(http, placed) == []
    [line] = changed["next_invoice"]["lines"]
    assert (line["quantity"], line["gross"]["amount"]) == (3, 27000)


def test_a_downgrade_under_proration_none_keeps_the_period_and_bills_the_new_plan_next(
    http: Http, services: Services
) -> None:
    ids = catalog(http, proration="none")
    placed = order(http, ids["offer"], "2027-04-01")
    services.clock_service.advance(datetime(2027, 4, 10, 9, 0, tzinfo=UTC))
    status, changed = http.post(
        f"/v1/subscriptions/{placed['subscription_id']}/change", {"plan_id": ids["plus"], "effective": "now"}
    )
    assert status == 200, changed
    assert credit_notes_of(http, placed["customer_id"]) == []
    assert other_invoices(http, placed) == []
    assert lines_of(changed["next_invoice"]) == [("2027-05-01", "2027-06-01", 15000)]


def test_a_paid_month_paused_from_the_16th_for_a_month_is_credited_and_resumes_prorated(
    http: Http, services: Services
) -> None:
    ids = catalog(http)
    placed = order(http, ids["offer"], "2027-04-01")
    pay(services, http.get(f"/v1/invoices/{placed['invoice_id']}")[1])
    services.clock_service.advance(datetime(2027, 4, 10, 9, 0, tzinfo=UTC))
    status, paused = http.post(
        f"/v1/subscriptions/{placed['subscription_id']}/pause", {"from": "2027-04-16", "until": "2027-05-16"}
    )
    assert status == 200, paused
    [credit] = credit_notes_of(http, placed["customer_id"])
    assert credit["totals"]["gross"]["amount"] == -4500  # 15/30 x 90.00
    # May is billed from the 16th: 16/31 x 90.00 = 46.45
    assert lines_of(paused["next_invoice"]) == [("2027-05-16", "2027-06-01", 4645)]


def test_an_open_pause_stops_renewals_until_resumed(http: Http, services: Services) -> None:
    ids = catalog(http)
    placed = order(http, ids["offer"], "2027-04-01")
    services.clock_service.advance(datetime(2027, 4, 10, 9, 0, tzinfo=UTC))
    sub = placed["subscription_id"]
    status, paused = http.post(f"/v1/subscriptions/{sub}/pause", {"from": "2027-05-01"})
    assert status == 200, paused
    assert paused["next_invoice"] is None
    assert http.post(f"/v1/subscriptions/{sub}/pause", {"from": "2027-05-03"})[0] == 409
    services.clock_service.advance(datetime(2027, 5, 20, 9, 0, tzinfo=UTC))
    status, resumed = http.post(f"/v1/subscriptions/{sub}/resume", {})
    assert status == 200, resumed
    assert lines_of(resumed["next_invoice"]) == [("2027-05-21", "2027-06-01", 3194)]  # 11/31 x 90.00
    assert other_invoices(http, placed) == []


def test_bad_changes_are_clear_errors_that_change_nothing(http: Http, services: Services) -> None:
    ids = catalog(http)
    placed = order(http, ids["offer"], "2027-04-01")
    sub = placed["subscription_id"]
    assert http.post(f"/v1/subscriptions/{sub}/change", {})[0] == 422
    assert http.post(f"/v1/subscriptions/{sub}/change", {"plan_id": ids["basic"]})[0] == 422
    assert http.post(f"/v1/subscriptions/{sub}/change", {"plan_id": "pln_nope"})[0] == 404
    assert http.post(f"/v1/subscriptions/{sub}/pause", {"from": "2026-01-01"})[0] == 422
    assert http.post(f"/v1/subscriptions/{sub}/resume", {})[0] == 409
    _, subscription = http.get(f"/v1/subscriptions/{sub}")
    assert subscription["plan_id"] == ids["basic"]
