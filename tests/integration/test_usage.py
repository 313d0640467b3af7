"""Usage billed in arrears: a subscription paid by invoice (renewals issued 14 days ahead) reports API calls
in January. February's invoice is issued on 18 January, before January ends, so January's usage goes on
the next invoice issued after 1 February: March's, issued 15 February, in graduated tiers.

Plan: 100.00 NOK a month + API calls: first 1,000 at 0.10 NOK, next 9,000 at 0.05, beyond at 0.02.
January: 700 + 11,800 = 12,500 calls → 1,000 × 0.10 = 100.00; 9,000 × 0.05 = 450.00; 2,500 × 0.02 = 50.00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from tests.support.catalog import SELLER, Http, person


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def metered(http: Http) -> dict[str, Any]:
    http.created("/v1/legal-entities", SELLER)
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
