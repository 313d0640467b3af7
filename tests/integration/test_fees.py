"""Fees for a customer's next invoice: added over HTTP, read with versions, marked invoiced exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.catalog.vat import VatCode
from chalicelib.container import Services
from chalicelib.customers.models import Customer, FeeStatus
from chalicelib.money import Currency
from chalicelib.store.documents import WriteConflictError
from tests.support.customers import customer_client, make_customer


class RecordingDrafts:
    """Stands in for the draft service: records which customers' drafts were to be rebuilt."""

    def __init__(self) -> None:
        self.customers: list[str] = []

    def customer_changed(self, customer_id: str) -> None:
        self.customers.append(customer_id)


@pytest.fixture
def drafts(services: Services) -> RecordingDrafts:
    recording = RecordingDrafts()
    services.__dict__["drafts"] = recording  # replaces the cached property for this test
    return recording


@pytest.fixture
def api(services: Services, drafts: RecordingDrafts) -> Iterator[Client]:
    with customer_client() as client:
        yield client


@pytest.fixture
def kari(services: Services) -> Customer:
    return make_customer(
        services.documents, ident="cus_kari", number=10001, name="Kari", email="kari@example.no"
    )


def add_fee(api: Client, headers: dict[str, str], body: object, customer_id: str = "cus_kari") -> Any:
    return api.http.post(f"/v1/customers/{customer_id}/fees", headers=headers, body=json.dumps(body))


def test_a_fee_is_pending_until_invoiced(
    api: Client, admin: dict[str, str], services: Services, drafts: RecordingDrafts, kari: Customer
) -> None:
    response = add_fee(api, admin, {"amount": {"amount": 4900}, "text": "Papirfakturagebyr"})
    assert response.status_code == 201, response.body
    view = response.json_body
    assert view["id"].startswith("fee_")
    assert {key: value for key, value in view.items() if key != "id"} == {
        "customer_id": "cus_kari",
        "amount": {"amount": 4900, "currency": "NOK"},
        "text": "Papirfakturagebyr",
        "vat_rate_code": "standard",
        "status": "pending",
        "invoice_id": None,
        "created_at": "2027-01-01T08:00:00Z",
    }
    assert drafts.customers == ["cus_kari"]
    [(fee, version)] = services.fees.pending_with_versions("cus_kari")
    assert (fee.id, fee.amount, fee.currency, fee.vat_code, version) == (
        view["id"],
        4900,
        Currency.NOK,
        VatCode.STANDARD,
        1,
    )

    writes = services.fees.invoiced_writes([(fee, version)], "inv_1")
    services.documents.write([], writes)
    assert services.fees.pending("cus_kari") == []
    stored = services.documents.get("CUSTOMER#cus_kari", f"FEE#{fee.id}")
    assert stored is not None
    assert stored.status == FeeStatus.INVOICED
    assert stored.document(type(fee)).invoice_id == "inv_1"
    # A second invoice built from the same read cannot take the fee again
    with pytest.raises(WriteConflictError):
        services.documents.write([], services.fees.invoiced_writes([(fee, version)], "inv_2"))


def test_fees_in_other_currencies_and_vat_codes(
    api: Client, admin: dict[str, str], services: Services, kari: Customer
) -> None:
    body = {
        "amount": {"amount": 2500, "currency": "SEK"},
        "text": "Påminnelseavgift",
        "vat_rate_code": "exempt",
    }
    assert add_fee(api, admin, body).status_code == 201
    assert add_fee(api, admin, {"amount": {"amount": 100}, "text": "second"}).status_code == 201
    pending = services.fees.pending("cus_kari")
    assert [(f.amount, f.currency, f.vat_code, f.text) for f in pending] == [
        (2500, Currency.SEK, VatCode.EXEMPT, "Påminnelseavgift"),
        (100, Currency.NOK, VatCode.STANDARD, "second"),
    ]


def test_a_replayed_post_adds_one_fee(
    api: Client, admin: dict[str, str], services: Services, kari: Customer
) -> None:
    headers = admin | {"Idempotency-Key": "fee-1"}
    first = add_fee(api, headers, {"amount": {"amount": 4900}, "text": "Gebyr"})
    second = add_fee(api, headers, {"amount": {"amount": 4900}, "text": "Gebyr"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json_body == second.json_body
    assert len(services.fees.pending("cus_kari")) == 1
    assert add_fee(api, headers, {"amount": {"amount": 5000}, "text": "Gebyr"}).status_code == 409


def test_bad_input_is_a_problem_and_writes_nothing(
    api: Client, admin: dict[str, str], services: Services, drafts: RecordingDrafts, kari: Customer
) -> None:
    cases: list[tuple[object, int]] = [
        ({"amount": {"amount": -100}, "text": "x"}, 422),
        ({"amount": {"amount": 0}, "text": "x"}, 422),
        ({"amount": {"amount": 49.5}, "text": "x"}, 422),
        ({"amount": {"amount": "4900"}, "text": "x"}, 422),
        ({"amount": 4900, "text": "x"}, 422),
        ({"amount": {"amount": 4900, "currency": "USD"}, "text": "x"}, 422),
        ({"amount": {"amount": 4900}}, 422),
        ({"amount": {"amount": 4900}, "text": ""}, 422),
        ({"amount": {"amount": 4900}, "text": "x" * 201}, 422),
        ({"amount": {"amount": 4900}, "text": "x", "vat_rate_code": "luxury"}, 422),
        ({"amount": {"amount": 4900}, "text": "x", "extra": True}, 422),
        ([], 422),
    ]
    for body, status in cases:
        response = add_fee(api, admin, body)
        assert response.status_code == status, (body, response.body)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json_body["errors"], body
    response = api.http.post("/v1/customers/cus_kari/fees", headers=admin, body=b"{not json")
    assert response.status_code == 400
    unknown = add_fee(api, admin, {"amount": {"amount": 4900}, "text": "x"}, customer_id="cus_nobody")
    assert unknown.status_code == 404
    assert unknown.json_body["type"].endswith("/not-found")
    assert services.fees.pending("cus_kari") == []
    assert services.fees.pending("cus_nobody") == []
    assert drafts.customers == []


def test_needs_the_admin_token(api: Client, kari: Customer) -> None:
    response = api.http.post("/v1/customers/cus_kari/fees", body=b'{"amount": {"amount": 1}, "text": "x"}')
    assert response.status_code == 401
