"""A credit note for one line of a paid bundle invoice; the line cannot be credited twice.

Bundle 349.00 NOK a month = Nordavisa 299.00 (0 %) + Kryssord+ 50.00 (25 %: VAT 10.00). Kari orders on 1
January 2027 and pays; the publisher credits line 2 (Kryssord+). The customer holds 50.00 NOK credit.
A full credit note on top of it would credit 349.00 + 50.00 > 349.00: refused (409).

| No. | Document    | Period         | Issued     | Due        | Line      | Amount     | VAT    |
|-----|-------------|----------------|------------|------------|-----------|------------|--------|
| 1   | invoice     | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa | 299.00 NOK | 0.00   |
|     |             |                |            |            | Kryssord+ | 50.00 NOK  | 10.00  |
| 2   | credit note | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-01 | Kryssord+ | −50.00 NOK | −10.00 |

Balance: −50.00 NOK (credit).
"""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    balance,
    credit_note,
    documents,
    order,
    pay,
)
from tests.scenario.conftest import Api


def test_credit_note_per_line_paid(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.bundle("Avis + kryssord", [("Nordavisa", "news", 29900), ("Kryssord+", "standard", 5000)])
    placed = order(api, catalog.offer(plan), "2027-01-01")
    pay(stack, api, placed["invoice_id"])

    credit_note(api, placed["invoice_id"], [2])
    again = api.post(f"/v1/invoices/{placed['invoice_id']}/credit-note", {})
    assert again.status_code == 409, again.text

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (
                Line("Nordavisa", "2027-01-01", "2027-01-31", 29900),
                Line("Kryssord+", "2027-01-01", "2027-01-31", 5000, 1000),
            ),
            34900,
        ),
        Doc(
            2,
            "credit note",
            "2027-01-01",
            "2027-01-01",
            (Line("Kryssord+", "2027-01-01", "2027-01-31", -5000, -1000),),
            -5000,
        ),
    ]
    assert balance(api, placed["customer_id"]) == -5000
