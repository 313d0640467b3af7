"""Stopping subscriptions: at period end or now, with whole-day credit for unused invoiced time.

The billing issue's examples, to the cent:
  a paid 90.00 EUR month of 30 days (April), stopped on its 14th day: 16/30 x 90.00 = 48.00 EUR credit;
  an unpaid 84.00 EUR invoice for a 28-day month (February), stopped on its 9th day: 9/28 x 84.00 =
  27.00 EUR stays owed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.money import Currency
from tests.support.catalog import SELLER, Http, person, reminder_only_plan


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def euro_offer(http: Http, price: int, **plan: Any) -> str:
    seller = http.created("/v1/legal-entities", SELLER)
    http.created("/v1/dunning-plans", reminder_only_plan(seller["id"]))
    product = http.created("/v1/products", {"name": "Nordavisa", "kind": "digital", "vat_rate_code": "news"})
    created = http.created(
        "/v1/plans",
        {
            "name": "EUR",
            "product_ids": [product["id"]],
            "currency": "EUR",
            "price": {"amount": price},
            "period": {"unit": "month", "count": 1},
            **plan,
        },
    )
    offer = http.created(
        "/v1/offers",
        {"name": "EUR", "plan_id": created["id"], "payment_methods": ["invoice"], "access": "on_order"},
    )
    return str(offer["id"])


def order(http: Http, offer_id: str, start: str) -> dict[str, Any]:
    return http.created(
        "/v1/orders",
        {"offer_id": offer_id, "payment_method": "invoice", "start_date": start, "customer": person()},
    )


def pay(services: Services, invoice: dict[str, Any]) -> None:
    services.ledger.record_payment(
        IncomingPayment(
            source="test",
            source_reference=f"pay-{invoice['id']}",
            method=IncomingMethod.MANUAL,
            amount=invoice["totals"]["gross"]["amount"],
            currency=Currency.EUR,
            paid_on=date(2027, 1, 5),
            kid=invoice["kid"],
            kid_valid=True,
        )
    )


def credit_notes_of(http: Http, customer_id: str) -> list[dict[str, Any]]:
    _, page = http.get(f"/v1/customers/{customer_id}/invoices")
    return [i for i in page["items"] if i["kind"] == "credit_note"]


@pytest.mark.clock_start("2027-03-28T08:00:00+00:00")  # an April example: no need to live through Q1
def test_a_paid_month_stopped_on_its_14th_day_leaves_48_euro_credit(http: Http, services: Services) -> None:
    placed = order(http, euro_offer(http, 9000), "2027-04-01")
    _, invoice = http.get(f"/v1/invoices/{placed['invoice_id']}")
    pay(services, invoice)
    services.clock_service.advance(datetime(2027, 4, 14, 15, 0, tzinfo=UTC))
    status, stopped = http.post(f"/v1/subscriptions/{placed['subscription_id']}/stop", {"effective": "now"})
    assert status == 200, stopped
    assert (stopped["status"], stopped["ends_on"], stopped["next_invoice"]) == ("stopped", "2027-04-15", None)
    [credit] = credit_notes_of(http, placed["customer_id"])
    assert credit["totals"]["gross"] == {"amount": -4800, "currency": "EUR"}
    assert credit["credited_invoice_id"] == placed["invoice_id"]
    ledger = http.get(f"/v1/customers/{placed['customer_id']}/ledger")[1]
    assert ledger["balance"] == {"amount": -4800, "currency": "EUR"}  # the customer holds 48.00 EUR credit
    # Access ends with the stop
    access = http.get(
        f"/v1/access?customer_id={placed['customer_id']}&product_id={invoice['lines'][0]['product_id']}"
    )[1]
    assert access["valid_until"] is None or access["valid_until"] == "2027-04-15"


def test_an_unpaid_28_day_month_stopped_on_its_9th_day_leaves_27_euro_owed(
    http: Http, services: Services
) -> None:
    placed = order(http, euro_offer(http, 8400), "2027-02-01")
    services.clock_service.advance(datetime(2027, 2, 9, 10, 0, tzinfo=UTC))
    status, _ = http.post(f"/v1/subscriptions/{placed['subscription_id']}/stop", {"effective": "now"})
    assert status == 200
    # The unpaid invoice is credited in full and the 9 days used are invoiced again: 27.00 EUR owed.
    _, invoice = http.get(f"/v1/invoices/{placed['invoice_id']}")
    assert (invoice["status"], invoice["open_amount"]["amount"]) == ("credited", 0)
    assert [c["totals"]["gross"]["amount"] for c in credit_notes_of(http, placed["customer_id"])] == [-8400]
    _, page = http.get(f"/v1/customers/{placed['customer_id']}/invoices")
    [used] = [i for i in page["items"] if i["kind"] == "invoice" and i["id"] != placed["invoice_id"]]
    assert used["totals"]["gross"] == {"amount": 2700, "currency": "EUR"}
    assert [(ln["period"], ln["gross"]["amount"]) for ln in used["lines"]] == [
        ({"start": "2027-02-01", "end": "2027-02-10"}, 2700)
    ]
    ledger = http.get(f"/v1/customers/{placed['customer_id']}/ledger")[1]
    assert ledger["balance"] == {"amount": 2700, "currency": "EUR"}


def test_a_stop_at_period_end_credits_a_period_already_invoiced_ahead(http: Http, services: Services) -> None:
    placed = order(http, euro_offer(http, 8400), "2027-01-01")
    services.clock_service.advance(datetime(2027, 1, 20, 12, 0, tzinfo=UTC))  # February issued on the 18th
    status, stopped = http.post(f"/v1/subscriptions/{placed['subscription_id']}/stop", {})
    assert status == 200, stopped
    assert stopped["ends_on"] == "2027-02-01"
    credits = credit_notes_of(http, placed["customer_id"])
    assert [(c["period"]["start"], c["totals"]["gross"]["amount"]) for c in credits] == [
        ("2027-02-01", -8400)
    ]
    # Stopping again changes nothing, and no more renewals come
    assert http.post(f"/v1/subscriptions/{placed['subscription_id']}/stop", {})[0] == 200
    services.clock_service.advance(datetime(2027, 3, 20, tzinfo=UTC))
    _, page = http.get(f"/v1/customers/{placed['customer_id']}/invoices")
    assert sorted(i["number"] for i in page["items"] if i["number"]) == [1, 2, 3]


def test_a_binding_period_refuses_an_early_stop(http: Http, services: Services) -> None:
    placed = order(http, euro_offer(http, 8400, binding_periods=12), "2027-01-01")
    status, problem = http.post(f"/v1/subscriptions/{placed['subscription_id']}/stop", {"effective": "now"})
    assert status == 409
    assert "bound until 2028-01-01" in problem["detail"]
    _, subscription = http.get(f"/v1/subscriptions/{placed['subscription_id']}")
    assert subscription["status"] == "active"


def test_a_charged_early_stop_invoices_the_rest_of_the_binding(http: Http, services: Services) -> None:
    placed = order(http, euro_offer(http, 8400, binding_periods=3, early_stop="charge"), "2027-01-01")
    services.clock_service.advance(datetime(2027, 1, 10, 12, 0, tzinfo=UTC))
    status, stopped = http.post(f"/v1/subscriptions/{placed['subscription_id']}/stop", {"effective": "now"})
    assert status == 200, stopped
    assert stopped["ends_on"] == "2027-01-11"
    assert credit_notes_of(http, placed["customer_id"]) == []  # January stays as invoiced
    _, page = http.get(f"/v1/customers/{placed['customer_id']}/invoices")
    [charged] = [i for i in page["items"] if i["kind"] == "invoice" and i["id"] != placed["invoice_id"]]
    assert [(ln["period"]["start"], ln["gross"]["amount"]) for ln in charged["lines"]] == [
        ("2027-02-01", 8400),
        ("2027-03-01", 8400),
    ]
    assert "binding period" in charged["lines"][0]["text"]
