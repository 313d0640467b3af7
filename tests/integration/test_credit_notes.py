"""Credit notes over HTTP: full or per line, numbered in the invoice series, never more than the invoice."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from tests.support.catalog import Catalog, Http, build_catalog, person


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


@pytest.fixture
def catalog(http: Http) -> Catalog:
    return build_catalog(http)


def bundle_invoice(http: Http, catalog: Catalog) -> dict[str, Any]:
    placed = http.created(
        "/v1/orders",
        {"offer_id": catalog.bundle_offer["id"], "payment_method": "invoice", "customer": person()},
    )
    return dict(http.get(f"/v1/invoices/{placed['invoice_id']}")[1])


def test_a_full_credit_note_cancels_the_invoice_in_the_same_series(http: Http, catalog: Catalog) -> None:
    invoice = bundle_invoice(http, catalog)
    status, credit_note = http.post(f"/v1/invoices/{invoice['id']}/credit-note", {})
    assert status == 201, credit_note
    assert (credit_note["kind"], credit_note["number"], credit_note["credited_invoice_id"]) == (
        "credit_note",
        2,
        invoice["id"],
    )
    assert credit_note["totals"] == {
        "net": {"amount": -33900, "currency": "NOK"},
        "vat": {"amount": -1000, "currency": "NOK"},
        "gross": {"amount": -34900, "currency": "NOK"},
    }
    _, credited = http.get(f"/v1/invoices/{invoice['id']}")
    assert (credited["status"], credited["open_amount"]["amount"]) == ("credited", 0)
    assert credited["lines"] == invoice["lines"]  # never an edit of the invoice
    # Crediting it again is refused and numbers nothing
    status, problem = http.post(f"/v1/invoices/{invoice['id']}/credit-note", {})
    assert status == 409, problem


def test_credit_per_line_up_to_the_invoice(http: Http, catalog: Catalog) -> None:
    invoice = bundle_invoice(http, catalog)
    status, crossword = http.post(f"/v1/invoices/{invoice['id']}/credit-note", {"lines": [2]})
    assert status == 201, crossword
    assert [
        (line["text"], line["gross"]["amount"], line["vat"]["amount"]) for line in crossword["lines"]
    ] == [("Kryssord+", -5000, -1000)]
    _, after = http.get(f"/v1/invoices/{invoice['id']}")
    assert after["open_amount"]["amount"] == 29900
    assert http.post(f"/v1/invoices/{invoice['id']}/credit-note", {})[0] == 409  # the rest is less than all
    # Crediting the same line again would fit in the invoice's total, but a line is credited once
    status, twice = http.post(f"/v1/invoices/{invoice['id']}/credit-note", {"lines": [2]})
    assert status == 409 and "line 2" in twice["detail"], twice
    status, news = http.post(f"/v1/invoices/{invoice['id']}/credit-note", {"lines": [1]})
    assert (status, news["number"]) == (201, 3)


@pytest.mark.parametrize(
    "body", [{"lines": [3]}, {"lines": [0]}, {"lines": [1, 1]}, {"lines": []}, {"lines": "all"}]
)
def test_bad_line_numbers_are_refused(http: Http, catalog: Catalog, body: dict[str, Any]) -> None:
    invoice = bundle_invoice(http, catalog)
    status, problem = http.post(f"/v1/invoices/{invoice['id']}/credit-note", body)
    assert status == 422, problem
    _, unchanged = http.get(f"/v1/invoices/{invoice['id']}")
    assert unchanged["status"] == "issued"


def test_drafts_and_unknown_invoices_cannot_be_credited(http: Http, catalog: Catalog) -> None:
    placed = http.created(
        "/v1/orders",
        {"offer_id": catalog.invoice_offer["id"], "payment_method": "invoice", "customer": person()},
    )
    _, subscription = http.get(f"/v1/subscriptions/{placed['subscription_id']}")
    assert http.post(f"/v1/invoices/{subscription['next_invoice']['id']}/credit-note", {})[0] == 409
    assert http.post("/v1/invoices/inv_missing/credit-note", {})[0] == 404
