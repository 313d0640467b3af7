"""Defining the catalog over HTTP: validation, references, pagination and price changes."""

from __future__ import annotations

import pytest
from chalice.test import Client

from chalicelib.container import Services
from tests.support.catalog import SELLER, Http, build_catalog


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def test_the_seller_is_data_with_a_validated_organisation_number(http: Http) -> None:
    seller = http.created("/v1/legal-entities", SELLER)
    assert (seller["organization_number"], seller["bank_account"]) == ("974760673", "86011117947")
    assert seller["due_days"]["invoice"] == 14
    status, problem = http.post("/v1/legal-entities", {**SELLER, "organization_number": "974760674"})
    assert (status, problem["errors"][0]["field"]) == (422, "organization_number")
    status, problem = http.post("/v1/legal-entities", {**SELLER, "time_zone": "Mars/Olympus"})
    assert status == 422
    status, changed = http.patch(f"/v1/legal-entities/{seller['id']}", {"default_due_days": 10})
    assert (status, changed["default_due_days"]) == (200, 10)


def test_products_need_a_seller_and_a_vat_code(http: Http) -> None:
    status, problem = http.post("/v1/products", {"name": "X", "kind": "digital", "vat_rate_code": "news"})
    assert (status, problem["errors"][0]["field"]) == (422, "legal_entity_id")
    http.created("/v1/legal-entities", SELLER)
    status, problem = http.post("/v1/products", {"name": "X", "kind": "digital", "vat_rate_code": "luxury"})
    assert status == 422
    status, problem = http.post(
        "/v1/products", {"name": "Strøm", "kind": "usage", "vat_rate_code": "standard"}
    )
    assert (status, problem["errors"][0]["field"]) == (422, "usage_metric")


def test_plans_check_products_components_and_currency(http: Http) -> None:
    catalog = build_catalog(http)
    base = {"name": "P", "currency": "NOK", "period": {"unit": "month", "count": 1}}
    news, crossword = catalog.news["id"], catalog.crossword["id"]
    cases = [
        ({"product_ids": ["prd_unknown"], "price": {"amount": 100}}, "product_ids"),
        ({"product_ids": [news, crossword], "price": {"amount": 100}}, "components"),
        (
            {
                "product_ids": [news, crossword],
                "price": {"amount": 100},
                "components": [
                    {"product_id": news, "price": {"amount": 60}},
                    {"product_id": crossword, "price": {"amount": 30}},
                ],
            },
            "components",
        ),
        ({"product_ids": [news], "price": {"amount": 100, "currency": "SEK"}}, "price"),
        ({"product_ids": [news], "price": {"amount": -1}}, "price.amount"),
        ({"product_ids": [news], "price": {"amount": "100"}}, "price.amount"),
        ({"product_ids": [news], "price": {"amount": 100}, "next_plan_id": "pln_nope"}, "next_plan_id"),
    ]
    for change, field in cases:
        status, problem = http.post("/v1/plans", {**base, **change})
        assert status == 422, (change, problem)
        assert field in [error["field"] for error in problem["errors"]], (change, problem)


def test_lists_paginate_with_an_opaque_cursor(http: Http) -> None:
    http.created("/v1/legal-entities", SELLER)
    made = [
        http.created("/v1/products", {"name": f"P{i}", "kind": "service", "vat_rate_code": "standard"})["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        status, page = http.get("/v1/products?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        seen.extend(product["id"] for product in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    assert http.get("/v1/products?cursor=garbage")[0] == 422
    assert http.get("/v1/products?limit=1000")[0] == 422
    assert http.get("/v1/products?colour=red")[0] == 422


def test_offers_reference_real_plans_and_methods(http: Http) -> None:
    catalog = build_catalog(http)
    plan_id = catalog.monthly["id"]
    for body, field in [
        ({"name": "O", "plan_id": "pln_nope", "payment_methods": ["invoice"]}, "plan_id"),
        ({"name": "O", "plan_id": plan_id, "payment_methods": []}, "payment_methods"),
        ({"name": "O", "plan_id": plan_id, "payment_methods": ["cash"]}, "payment_methods.0"),
        ({"name": "O", "plan_id": plan_id, "payment_methods": ["card", "card"]}, "payment_methods"),
        (
            {
                "name": "O",
                "plan_id": plan_id,
                "payment_methods": ["card"],
                "after_campaign": {"plan_id": plan_id},
            },
            "after_campaign",
        ),
        (
            {
                "name": "O",
                "plan_id": plan_id,
                "payment_methods": ["card"],
                "valid_from": "2027-02-01",
                "valid_until": "2027-01-01",
            },
            "valid_until",
        ),
    ]:
        status, problem = http.post("/v1/offers", body)
        assert status == 422, (body, problem)
        assert field in [error["field"] for error in problem["errors"]], (body, problem)
    status, offer = http.get(f"/v1/offers/{catalog.campaign_offer['id']}")
    assert offer["campaign"] == {"price": {"amount": 3300, "currency": "NOK"}, "periods": 3}


def test_a_price_change_reaches_drafts_from_its_effective_date(http: Http, services: Services) -> None:
    catalog = build_catalog(http)
    placed = http.created(
        "/v1/orders",
        {
            "offer_id": catalog.invoice_offer["id"],
            "payment_method": "invoice",
            "customer": {"type": "person", "name": "Ola", "email": "ola@example.no"},
        },
    )
    # A price change effective 1 February reaches February's draft once queued work settles
    status, change = http.post(
        f"/v1/plans/{catalog.monthly['id']}/price-changes",
        {"price": {"amount": 32900}, "effective_date": "2027-02-01"},
    )
    assert status == 201, change
    services.drainer.drain()
    _, subscription = http.get(f"/v1/subscriptions/{placed['subscription_id']}")
    assert subscription["next_invoice"]["totals"]["gross"]["amount"] == 32900
    # The issued January invoice is never rewritten
    _, invoice = http.get(f"/v1/invoices/{placed['invoice_id']}")
    assert invoice["totals"]["gross"]["amount"] == 29900
    # A change in the past, or twice on one date, is refused
    assert (
        http.post(
            f"/v1/plans/{catalog.monthly['id']}/price-changes",
            {"price": {"amount": 1}, "effective_date": "2026-12-01"},
        )[0]
        == 422
    )
    assert (
        http.post(
            f"/v1/plans/{catalog.monthly['id']}/price-changes",
            {"price": {"amount": 1}, "effective_date": "2027-02-01"},
        )[0]
        == 422
    )
    _, plan = http.get(f"/v1/plans/{catalog.monthly['id']}")
    assert [c["effective_date"] for c in plan["price_changes"]] == ["2027-02-01"]
