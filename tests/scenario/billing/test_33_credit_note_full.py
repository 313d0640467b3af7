"""A full credit note of a bundle invoice, with its two VAT rates.

Bundle 349.00 NOK a month = Nordavisa 299.00 (news, 0 % VAT) + Kryssord+ 50.00 (standard 25 %: net 40.00,
VAT 10.00). Kari orders on 1 January 2027; the same day the invoice is credited in full.

| No. | Document    | Period         | Issued     | Due        | Line      | Amount      | VAT    |
|-----|-------------|----------------|------------|------------|-----------|-------------|--------|
| 1   | invoice     | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa | 299.00 NOK  | 0.00   |
|     |             |                |            |            | Kryssord+ | 50.00 NOK   | 10.00  |
|     |             |                |            |            | total     | 349.00 NOK  | 10.00  |
| 2   | credit note | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-01 | Nordavisa | −299.00 NOK | 0.00   |
|     |             |                |            |            | Kryssord+ | −50.00 NOK  | −10.00 |
|     |             |                |            |            | total     | −349.00 NOK | −10.00 |

Invoice 1 is credited (nothing open); balance 0.00.
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    balance,
    credit_note,
    documents,
    order,
    statuses,
)
from tests.scenario.conftest import Api


def test_credit_note_full(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.bundle("Avis + kryssord", [("Nordavisa", "news", 29900), ("Kryssord+", "standard", 5000)])
    placed = order(api, catalog.offer(plan), "2027-01-01")

    credit_note(api, placed["invoice_id"])

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
            (
                Line("Nordavisa", "2027-01-01", "2027-01-31", -29900),
                Line("Kryssord+", "2027-01-01", "2027-01-31", -5000, -1000),
            ),
            -34900,
        ),
    ]
    assert statuses(api, placed["customer_id"])[1] == ("credited", 0)
    assert balance(api, placed["customer_id"]) == 0
