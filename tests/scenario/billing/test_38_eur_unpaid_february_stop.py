"""A euro plan: an unpaid 28-day February stopped on its 9th day (the example in docs/billing.md §9).

84.00 EUR a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027 to start 1 February, and stops
"now" on 9 February (ends_on 10 February). The unpaid invoice is credited in full; the 9 days used are
invoiced again: 8400 − 8400 × 19/28 (= 5700) = 27.00 EUR.

| No. | Document | Period         | Issued | Due    | Line                         | Amount    |
|-----|----------|----------------|--------|--------|------------------------------|-----------|
| 1   | invoice  | 1 Feb – 28 Feb | 1 Jan  | 15 Jan | Nordavisa                    | 84.00 EUR |
| 2   | invoice  | –              | –      | –      | (none: March not issued yet) |           |

| No. | Document    | Period         | Issued | Due    | Line                            | Amount     |
|-----|-------------|----------------|--------|--------|---------------------------------|------------|
| 1   | invoice     | 1 Feb – 28 Feb | 1 Jan  | 15 Jan | Nordavisa                       | 84.00 EUR  |
| 2   | credit note | 1 Feb – 28 Feb | 9 Feb  | 9 Feb  | Nordavisa (28/28 days credited) | −84.00 EUR |
| 3   | invoice     | 1 Feb – 9 Feb  | 9 Feb  | 23 Feb | Nordavisa (9/28 days used)      | 27.00 EUR  |

Balance: 27.00 EUR owed.
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    act,
    advance,
    documents,
    order,
)
from tests.scenario.conftest import Api


def test_eur_unpaid_february_stop(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Euro", 8400, currency="EUR")), "2027-02-01")

    advance(api, "2027-02-09")
    act(api, placed["subscription_id"], "stop", {"effective": "now"})

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 8400),),
            8400,
        ),
        Doc(
            2,
            "credit note",
            "2027-02-09",
            "2027-02-09",
            (Line("Nordavisa (28/28 days credited)", "2027-02-01", "2027-02-28", -8400),),
            -8400,
        ),
        Doc(
            3,
            "invoice",
            "2027-02-09",
            "2027-02-23",
            (Line("Nordavisa (9/28 days used)", "2027-02-01", "2027-02-09", 2700),),
            2700,
        ),
    ]
    assert api.get(f"/v1/customers/{placed['customer_id']}/ledger").json()["balance"] == {
        "amount": 2700,
        "currency": "EUR",
    }
