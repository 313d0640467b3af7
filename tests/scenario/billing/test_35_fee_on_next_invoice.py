"""A fee added in January appears on the next invoice, February's renewal.

300.00 NOK a month (0 % VAT), paper invoice. Kari orders on 1 January 2027; the publisher adds a
paper-invoice fee of 49.00 NOK (standard 25 % VAT, included: VAT 4900 × 25/125 = 9.80). It is put on
invoice 2, issued on 18 January.

| No. | Document | Period         | Issued     | Due        | Line              | Amount     | VAT  |
|-----|----------|----------------|------------|------------|-------------------|------------|------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa         | 300.00 NOK | 0.00 |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa         | 300.00 NOK | 0.00 |
|     |          |                |            |            | Papirfakturagebyr | 49.00 NOK  | 9.80 |
|     |          |                |            |            | total             | 349.00 NOK | 9.80 |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    advance,
    documents,
    order,
)
from tests.scenario.conftest import Api


def test_fee_on_next_invoice(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01")
    api.created(
        f"/v1/customers/{placed['customer_id']}/fees",
        {"amount": {"amount": 4900}, "text": "Papirfakturagebyr"},
    )

    advance(api, "2027-01-18")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 30000),),
            30000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (
                Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),
                Line("Papirfakturagebyr", None, None, 4900, 980),
            ),
            34900,
        ),
    ]
