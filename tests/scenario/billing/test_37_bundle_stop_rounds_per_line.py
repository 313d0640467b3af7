"""A paid bundle stopped "now": each line is prorated and rounded on its own, VAT per line.

Bundle 349.00 NOK a month = Nordavisa 299.00 (0 %) + Kryssord+ 50.00 (25 %). Kari orders on 1 January 2027,
pays, and stops on 14 January (ends_on 15 January; 17 of 31 days unused).

* Nordavisa: 29900 × 17/31 = 16396.77 → 163.97 NOK, VAT 0
* Kryssord+: 5000 × 17/31 = 2741.94 → 27.42 NOK, VAT 2742 × 25/125 = 548.4 → 5.48

| No. | Document    | Period    | Issued | Due    | Line                            | Amount      | VAT   |
|-----|-------------|-----------|--------|--------|---------------------------------|-------------|-------|
| 1   | invoice     | 1–31 Jan  | 1 Jan  | 15 Jan | Nordavisa                       | 299.00 NOK  | 0.00  |
|     |             |           |        |        | Kryssord+                       | 50.00 NOK   | 10.00 |
| 2   | credit note | 15–31 Jan | 14 Jan | 14 Jan | Nordavisa (17/31 days credited) | −163.97 NOK | 0.00  |
|     |             |           |        |        | Kryssord+ (17/31 days credited) | −27.42 NOK  | −5.48 |
|     |             |           |        |        | total                           | −191.39 NOK | −5.48 |

Balance: −191.39 NOK (credit).
"""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    act,
    advance,
    balance,
    documents,
    order,
    pay,
)
from tests.scenario.conftest import Api


def test_bundle_stop_rounds_per_line(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.bundle("Avis + kryssord", [("Nordavisa", "news", 29900), ("Kryssord+", "standard", 5000)])
    placed = order(api, catalog.offer(plan), "2027-01-01")
    pay(stack, api, placed["invoice_id"])

    advance(api, "2027-01-14")
    act(api, placed["subscription_id"], "stop", {"effective": "now"})

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
            "2027-01-14",
            "2027-01-14",
            (
                Line("Nordavisa (17/31 days credited)", "2027-01-15", "2027-01-31", -16397),
                Line("Kryssord+ (17/31 days credited)", "2027-01-15", "2027-01-31", -2742, -548),
            ),
            -19139,
        ),
    ]
    assert balance(api, placed["customer_id"]) == -19139
