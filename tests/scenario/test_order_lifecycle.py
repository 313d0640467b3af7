"""Scenario, over HTTP against the local stack: a publisher defines its catalog, Kari orders a bundle of
a 0 % news product and a 25 % crossword, replays the order, and is renewed by the invoice run.

Expected numbers (NOK, VAT included in prices):
  bundle 349.00 = news 299.00 (0 % VAT) + crossword 50.00 (25 %: net 40.00, VAT 10.00)
  invoice 1: period 2027-01-01..2027-01-31, issued 2027-01-01, due 2027-01-15 (14 days), VAT 10.00
  invoice 2: period 2027-02-01..2027-02-28, issued 2027-01-18 (14 days ahead), due 2027-02-01
"""

from __future__ import annotations

from chalicelib.billing.kid import is_valid_kid
from tests.scenario.conftest import Api
from tests.support.clock import advance_clock

SELLER = {
    "name": "Avishuset Nord AS",
    "organization_number": "974760673",
    "address": {"line1": "Storgata 1", "postal_code": "9008", "city": "Tromsø"},
    "bank_account": "86011117947",
}


def test_kari_orders_a_bundle_and_renews(api: Api) -> None:
    # The publisher's catalog
    api.created("/v1/legal-entities", SELLER)
    news = api.created("/v1/products", {"name": "Nordavisa", "kind": "digital", "vat_rate_code": "news"})
    crossword = api.created(
        "/v1/products", {"name": "Kryssord+", "kind": "digital", "vat_rate_code": "standard"}
    )
    plan = api.created(
        "/v1/plans",
        {
            "name": "Avis + kryssord",
            "product_ids": [news["id"], crossword["id"]],
            "currency": "NOK",
            "price": {"amount": 34900},
            "period": {"unit": "month", "count": 1},
            "components": [
                {"product_id": news["id"], "price": {"amount": 29900}},
                {"product_id": crossword["id"], "price": {"amount": 5000}},
            ],
        },
    )
    offer = api.created(
        "/v1/offers",
        {"name": "Pakke", "plan_id": plan["id"], "payment_methods": ["invoice", "ehf"], "access": "on_order"},
    )

    # Kari orders; the shop retries the same request
    order = {
        "offer_id": offer["id"],
        "payment_method": "invoice",
        "customer": {
            "type": "person",
            "name": "Kari Nordmann",
            "email": "kari@example.no",
            "phone": "41234567",
        },
    }
    first = api.post("/v1/orders", order, key="shop-order-1001")
    replay = api.post("/v1/orders", order, key="shop-order-1001")
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert api.post("/v1/orders", {**order, "quantity": 2}, key="shop-order-1001").status_code == 409
    placed = first.json()

    invoice = api.get(f"/v1/invoices/{placed['invoice_id']}").json()
    assert (invoice["number"], invoice["issue_date"], invoice["due_date"]) == (1, "2027-01-01", "2027-01-15")
    assert [
        (line["text"], line["vat_rate"], line["net"]["amount"], line["vat"]["amount"])
        for line in invoice["lines"]
    ] == [
        ("Nordavisa", "0", 29900, 0),
        ("Kryssord+", "25", 4000, 1000),
    ]
    assert invoice["totals"]["gross"]["amount"] == 34900
    assert is_valid_kid(invoice["kid"])

    # Access is granted on order for this offer, through January
    access = api.get(f"/v1/access?customer_id={placed['customer_id']}&product_id={news['id']}").json()
    assert (access["access"], access["valid_until"]) == (True, "2027-02-01")

    # The clock reaches the 18th: the daily run issues February, due when February starts
    advance_clock(api, "2027-01-18T12:00:00+01:00")
    invoices = api.get(f"/v1/customers/{placed['customer_id']}/invoices").json()["items"]
    issued = sorted(
        (i["number"], i["period"]["start"], i["issue_date"], i["due_date"]) for i in invoices if i["number"]
    )
    assert issued == [
        (1, "2027-01-01", "2027-01-01", "2027-01-15"),
        (2, "2027-02-01", "2027-01-18", "2027-02-01"),
    ]
    subscription = api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()
    assert subscription["current_period"] == {"start": "2027-01-01", "end": "2027-02-01"}
    assert subscription["next_invoice"]["period"] == {"start": "2027-03-01", "end": "2027-04-01"}

    # The customer is found by name prefix, e-mail, phone, customer number and KID
    customer = api.get(f"/v1/customers/{placed['customer_id']}").json()
    for query in ("kari n", "kari@example.no", "+4741234567", str(customer["number"]), invoice["kid"]):
        found = api.get(f"/v1/customers?q={requests_quote(query)}").json()["items"]
        assert [c["id"] for c in found] == [placed["customer_id"]], query


def requests_quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_an_organisation_orders_with_ehf_and_is_found_by_its_number(api: Api) -> None:
    """Runs after Kari's scenario on the same stack: the seller and catalog exist, the clock stands on
    18 January. Nordlys Eiendom AS orders the same bundle, paid by EHF (14 days), twice: one customer."""
    offer_id = api.get("/v1/offers").json()["items"][0]["id"]
    today = api.get("/v1/test/clock").json()["now"][:10]
    organisation = {
        "type": "organization",
        "name": "Nordlys Eiendom AS",
        "email": "faktura@nordlys.example.no",
        "org_number": "923 609 016",
    }
    bad = api.post(
        "/v1/orders",
        {
            "offer_id": offer_id,
            "payment_method": "ehf",
            "customer": {**organisation, "org_number": "923609017"},
        },
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["customer.org_number"]
    first = api.created(
        "/v1/orders", {"offer_id": offer_id, "payment_method": "ehf", "customer": organisation}
    )
    again = api.created(
        "/v1/orders", {"offer_id": offer_id, "payment_method": "ehf", "customer": organisation}
    )
    assert (first["new_customer"], again["new_customer"]) == (True, False)
    assert first["customer_id"] == again["customer_id"]
    customer = api.get(f"/v1/customers/{first['customer_id']}").json()
    assert (customer["type"], customer["org_number"]) == ("organization", "923609016")
    invoice = api.get(f"/v1/invoices/{first['invoice_id']}").json()
    assert (invoice["payment_method"], invoice["issue_date"]) == ("ehf", today)
    assert invoice["due_date"] == "2027-02-01"  # 14 days from 18 January
    assert invoice["totals"]["vat"]["amount"] == 1000
    found = api.get("/v1/customers?q=923609016").json()["items"]
    assert [c["id"] for c in found] == [first["customer_id"]]
