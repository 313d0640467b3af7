"""Sellers' own time: two sellers in one stack, each dating its documents on its own calendar.

Avishuset Nord AS keeps Europe/Oslo (UTC+1 in winter); Nuuk Avis ApS keeps America/Nuuk (UTC-2 in winter).
The test clock stands at 23:30 UTC on 14 January 2027: 00:30 on the 15th in Oslo, 21:30 on the 14th in Nuuk.

| Seller | Order at 23:30 UTC 14 Jan | Next period | Renewal issued | Issued by the run at (UTC) |
|--------|---------------------------|-------------|----------------|----------------------------|
| Oslo   | dated 15 Jan, due 29 Jan  | from 15 Feb | 1 Feb          | 1 Feb 01:00 (02:00 in Oslo)    |
| Nuuk   | dated 14 Jan, due 28 Jan  | from 14 Feb | 31 Jan         | 1 Feb 01:00 (23:00, 31 Jan in Nuuk) |

The run at 01:00 UTC on 31 January is still 30 January in Nuuk: the Nuuk renewal waits for the next run.
Each seller has its own invoice series (both start at 1) and its own KID prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.billing.kid import DEFAULT_KID_LAYOUT
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.container import Services
from chalicelib.customers.models import CustomerType
from chalicelib.orders.models import CustomerDetails, OrderRequest
from chalicelib.store.documents import DocumentItem
from chalicelib.values import PaymentMethod
from tests.support.catalog import Catalog, Http, build_catalog, reminder_only_plan

NUUK_SELLER = {
    "name": "Nuuk Avis ApS",
    "organization_number": "12345674",
    "address": {"line1": "Aqqusinersuaq 1", "postal_code": "3900", "city": "Nuuk", "country": "DK"},
    "bank_account": "DK5000400440116243",
    "country": "DK",
    "time_zone": "America/Nuuk",
}

pytestmark = pytest.mark.clock_start("2027-01-14T23:30:00+00:00")


@dataclass
class TwoSellers:
    oslo: Catalog
    nuuk_seller: dict[str, Any]
    nuuk_offer: dict[str, Any]


@pytest.fixture
def sellers(api: Client, admin: dict[str, str]) -> Iterator[TwoSellers]:
    http = Http(api, admin)
    oslo = build_catalog(http)
    http.created("/v1/dunning-plans", reminder_only_plan(oslo.seller["id"]))
    nuuk = http.created("/v1/legal-entities", NUUK_SELLER)
    http.created("/v1/dunning-plans", reminder_only_plan(nuuk["id"], "DK"))
    product = http.created(
        "/v1/products",
        {"name": "Nuuk Avis", "kind": "digital", "vat_rate_code": "standard", "legal_entity_id": nuuk["id"]},
    )
    plan = http.created(
        "/v1/plans",
        {
            "name": "Nuuk Avis månedlig",
            "product_ids": [product["id"]],
            "currency": "DKK",
            "price": {"amount": 7500},
            "period": {"unit": "month", "count": 1},
        },
    )
    offer = http.created(
        "/v1/offers", {"name": "Månedlig", "plan_id": plan["id"], "payment_methods": ["invoice"]}
    )
    yield TwoSellers(oslo, nuuk, offer)


def place(services: Services, offer_id: str, email: str) -> None:
    services.orders.place(
        OrderRequest(
            offer_id=offer_id,
            payment_method=PaymentMethod.INVOICE,
            customer=CustomerDetails(type=CustomerType.PERSON, name="Kari Nordmann", email=email),
        )
    )


def issued(seller_id: str) -> list[Invoice]:
    """The seller's issued invoices, by number (a test-only scan)."""
    invoices = (
        item.document(Invoice)
        for item in DocumentItem.scan(DocumentItem.kind == "invoice")
        if item.status == InvoiceStatus.ISSUED
    )
    return sorted((i for i in invoices if i.legal_entity_id == seller_id), key=lambda i: i.number or 0)


def dates(invoices: list[Invoice]) -> list[tuple[int | None, date, date, date | None]]:
    """(number, invoice date, due date, period start) of each invoice."""
    return [(i.number, i.invoice_date, i.due_date, i.period.start if i.period else None) for i in invoices]


def test_each_seller_dates_on_its_own_calendar(services: Services, sellers: TwoSellers) -> None:
    oslo_id, nuuk_id = sellers.oslo.seller["id"], sellers.nuuk_seller["id"]
    place(services, sellers.oslo.invoice_offer["id"], "kari@example.no")
    place(services, sellers.nuuk_offer["id"], "kari@example.gl")

    # The same instant, 23:30 UTC: the 15th in Oslo, the 14th in Nuuk; both series start at 1.
    assert dates(issued(oslo_id)) == [(1, date(2027, 1, 15), date(2027, 1, 29), date(2027, 1, 15))]
    assert dates(issued(nuuk_id)) == [(1, date(2027, 1, 14), date(2027, 1, 28), date(2027, 1, 14))]
    # Own KIDs: each seller's prefix, each seller's invoice number.
    [oslo_kid], [nuuk_kid] = (
        [DEFAULT_KID_LAYOUT.parse(i.kid or "") for i in issued(seller)] for seller in (oslo_id, nuuk_id)
    )
    assert oslo_kid.seller_prefix != nuuk_kid.seller_prefix
    assert (oslo_kid.invoice_number, nuuk_kid.invoice_number) == (1, 1)

    # The run at 01:00 UTC on 31 January: still the 30th in Nuuk, so its renewal (due the 31st) waits.
    services.clock_service.advance(datetime(2027, 1, 31, 12, 0, tzinfo=UTC))
    assert len(issued(nuuk_id)) == 1

    # The run at 01:00 UTC on 1 February: the 1st in Oslo, 23:00 on the 31st in Nuuk.
    services.clock_service.advance(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    assert dates(issued(oslo_id))[1:] == [(2, date(2027, 2, 1), date(2027, 2, 15), date(2027, 2, 15))]
    assert dates(issued(nuuk_id))[1:] == [(2, date(2027, 1, 31), date(2027, 2, 14), date(2027, 2, 14))]


def test_a_seller_needs_a_known_time_zone(api: Client, admin: dict[str, str]) -> None:
    http = Http(api, admin)
    status, problem = http.post("/v1/legal-entities", {**NUUK_SELLER, "time_zone": "Greenland/Nuuk"})
    assert (status, problem["errors"][0]["field"]) == (422, "time_zone")
    status, listed = http.get("/v1/legal-entities")
    assert (status, listed["items"]) == (200, [])
