"""Placing orders over HTTP: the customer, subscription, agreement, first invoice and draft it creates."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.billing.kid import is_valid_kid
from chalicelib.container import Services
from chalicelib.customers.models import CustomerType
from chalicelib.flows.place_order import PlaceOrder
from chalicelib.orders.models import CustomerDetails, OrderRequest
from chalicelib.values import PaymentMethod
from tests.support.catalog import Catalog, Http, build_catalog, organisation, person


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


@pytest.fixture
def catalog(http: Http) -> Iterator[Catalog]:
    yield build_catalog(http)


def order(http: Http, offer: dict[str, Any], method: str = "invoice", **extra: object) -> dict[str, Any]:
    body = {"offer_id": offer["id"], "payment_method": method, "customer": person(), **extra}
    return http.created("/v1/orders", body)


def test_a_person_orders_with_invoice(http: Http, catalog: Catalog) -> None:
    # Given the clock on 1 January 2027 (tests/conftest.py), when Kari orders the monthly plan
    placed = order(http, catalog.invoice_offer)
    # Then the first invoice covers January at list price, 0 % VAT (news), due in 14 days, with a valid KID
    _, invoice = http.get(f"/v1/invoices/{placed['invoice_id']}")
    assert invoice["number"] == 1
    assert invoice["status"] == "issued"
    assert (invoice["issue_date"], invoice["due_date"]) == ("2027-01-01", "2027-01-15")
    assert invoice["period"] == {"start": "2027-01-01", "end": "2027-02-01"}
    assert [(line["text"], line["vat_rate"], line["gross"]["amount"]) for line in invoice["lines"]] == [
        ("Nordavisa digital", "0", 29900)
    ]
    assert invoice["totals"] == {
        "net": {"amount": 29900, "currency": "NOK"},
        "vat": {"amount": 0, "currency": "NOK"},
        "gross": {"amount": 29900, "currency": "NOK"},
    }
    assert is_valid_kid(invoice["kid"])
    assert placed["payment"] == {"status": "awaiting_payment", "redirect_url": None, "kid": invoice["kid"]}
    # And the subscription is active with February's draft, issued 14 days ahead and due on 1 February
    _, subscription = http.get(f"/v1/subscriptions/{placed['subscription_id']}")
    assert (subscription["status"], subscription["agreement_status"]) == ("active", "active")
    assert subscription["current_period"] == {"start": "2027-01-01", "end": "2027-02-01"}
    draft = subscription["next_invoice"]
    assert (draft["status"], draft["number"], draft["kid"]) == ("draft", None, None)
    assert draft["period"] == {"start": "2027-02-01", "end": "2027-03-01"}
    assert (draft["issue_date"], draft["due_date"]) == ("2027-01-18", "2027-02-01")
    assert draft["totals"]["gross"]["amount"] == 29900


def test_a_bundle_splits_vat_by_product(http: Http, catalog: Catalog) -> None:
    placed = order(http, catalog.bundle_offer)
    _, invoice = http.get(f"/v1/invoices/{placed['invoice_id']}")
    lines = {line["text"]: line for line in invoice["lines"]}
    # The news part carries 0 % VAT; the crossword's 50.00 includes 25 % VAT: 10.00
    assert (lines["Nordavisa digital"]["vat"]["amount"], lines["Nordavisa digital"]["net"]["amount"]) == (
        0,
        29900,
    )
    assert (lines["Kryssord+"]["vat"]["amount"], lines["Kryssord+"]["net"]["amount"]) == (1000, 4000)
    assert invoice["totals"]["gross"]["amount"] == 34900
    assert invoice["totals"]["vat"]["amount"] == 1000
    assert invoice["vat_summary"] == [
        {
            "vat_rate": "25",
            "net": {"amount": 4000, "currency": "NOK"},
            "vat": {"amount": 1000, "currency": "NOK"},
        },
        {
            "vat_rate": "0",
            "net": {"amount": 29900, "currency": "NOK"},
            "vat": {"amount": 0, "currency": "NOK"},
        },
    ]


def test_a_campaign_prices_its_periods_then_the_list_price_follows(http: Http, catalog: Catalog) -> None:
    placed = order(http, catalog.campaign_offer)
    _, invoice = http.get(f"/v1/invoices/{placed['invoice_id']}")
    assert invoice["totals"]["gross"]["amount"] == 3300
    _, subscription = http.get(f"/v1/subscriptions/{placed['subscription_id']}")
    assert subscription["next_invoice"]["totals"]["gross"]["amount"] == 3300  # period 2 of 3


def test_an_organisation_orders_and_is_found_again_by_its_number(http: Http, catalog: Catalog) -> None:
    first = http.created(
        "/v1/orders",
        {"offer_id": catalog.invoice_offer["id"], "payment_method": "ehf", "customer": organisation()},
    )
    second = http.created(
        "/v1/orders",
        {"offer_id": catalog.bundle_offer["id"], "payment_method": "invoice", "customer": organisation()},
    )
    assert first["new_customer"] is True
    assert second["new_customer"] is False
    assert first["customer_id"] == second["customer_id"]
    _, invoices = http.get(f"/v1/invoices/{second['invoice_id']}")
    assert invoices["number"] == 2


def test_card_orders_wait_for_payment_and_grant_no_access(http: Http, catalog: Catalog) -> None:
    placed = order(http, catalog.invoice_offer, method="card")
    assert placed["payment"]["status"] == "awaiting_provider"
    _, subscription = http.get(f"/v1/subscriptions/{placed['subscription_id']}")
    assert subscription["status"] == "pending"


def test_replaying_an_order_creates_nothing_new(http: Http, catalog: Catalog) -> None:
    body = {"offer_id": catalog.invoice_offer["id"], "payment_method": "invoice", "customer": person()}
    first = http.post("/v1/orders", body, key="order-123")
    again = http.post("/v1/orders", body, key="order-123")
    assert first == again
    assert first[0] == 201
    other = http.post("/v1/orders", {**body, "quantity": 2}, key="order-123")
    assert other[0] == 409
    assert other[1]["type"].endswith("/idempotency-key-reused")
    fresh = http.created("/v1/orders", body)
    _, invoice = http.get(f"/v1/invoices/{fresh['invoice_id']}")
    assert invoice["number"] == 2  # the replay took no number


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payment_method": "vipps"}, "payment_method"),
        ({"offer_id": "off_missing"}, "offer_id"),
        ({"customer": person(email="not-an-email")}, "customer.email"),
        ({"customer": person(phone="12")}, "customer.phone"),
        ({"customer": organisation(org_number="923609017")}, "customer.org_number"),
        ({"customer": {**organisation(), "org_number": None}}, "customer.org_number"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"start_date": "2026-12-31"}, "start_date"),
        ({"start_date": "2027-02-30"}, "start_date"),
        ({"customer": {**person(), "type": "alien"}}, "customer.type"),
    ],
)
def test_bad_orders_are_refused_and_create_nothing(
    http: Http, catalog: Catalog, change: dict[str, object], field: str
) -> None:
    body = {
        "offer_id": catalog.invoice_offer["id"],
        "payment_method": "invoice",
        "customer": person(),
        **change,
    }
    status, problem = http.post("/v1/orders", body)
    assert status == 422, problem
    assert field in [error["field"] for error in problem["errors"]]
    placed = order(http, catalog.invoice_offer)
    _, invoice = http.get(f"/v1/invoices/{placed['invoice_id']}")
    assert invoice["number"] == 1


def test_concurrent_orders_get_gapless_invoice_numbers(
    services: Services, http: Http, catalog: Catalog
) -> None:
    # Given two order services (two Lambdas: the counter's condition decides between them), each
    # taking orders from four threads, 200 orders at once, some by the same customers
    lambdas = [
        PlaceOrder(
            services.documents,
            services.catalog,
            services.order_blocks,
            services.fees,
            services.access,
            services.ledger,
            services.clock,
        )
        for _ in range(2)
    ]

    def place(n: int) -> str:
        request = OrderRequest(
            offer_id=str(catalog.invoice_offer["id"]),
            payment_method=PaymentMethod.INVOICE,
            customer=CustomerDetails(
                type=CustomerType.PERSON, name=f"Kunde {n}", email=f"kunde{n % 150}@example.no"
            ),
        )
        return lambdas[n % 2].place(request).invoice_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        invoice_ids = list(pool.map(place, range(200)))
    # Then the numbers are exactly 1..200: no gap, no duplicate
    invoices = [services.subscriptions.invoice(ident) for ident in invoice_ids]
    assert sorted(invoice.number or 0 for invoice in invoices) == list(range(1, 201))
    # And each e-mail became exactly one customer
    assert len({invoice.customer_id for invoice in invoices}) == 150
