"""A three-month binding with `early_stop: charge`: stopping in January charges February and March.

250.00 NOK a month, `binding_periods: 3`, paper invoice, 0 % VAT. Kari orders on 1 January 2027 and stops
"now" on 10 January (ends_on 11 January). January stays as invoiced (no credit); the binding months not
yet invoiced are charged at once.

| No. | Document | Period         | Issued | Due    | Line                                   | Amount     |
|-----|----------|----------------|--------|--------|----------------------------------------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 1 Jan  | 15 Jan | Nordavisa                              | 250.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb | 10 Jan | 24 Jan | Nordavisa (binding period, early stop) | 250.00 NOK |
|     |          | 1 Mar – 31 Mar |        |        | Nordavisa (binding period, early stop) | 250.00 NOK |
|     |          |                |        |        | total                                  | 500.00 NOK |

Balance: 750.00 NOK owed.
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    act,
    advance,
    balance,
    documents,
    order,
)
from tests.scenario.conftest import Api


def test_binding_charged_early_stop(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.plan("Bundet", 25000, binding_periods=3, early_stop="charge")
    placed = order(api, catalog.offer(plan), "2027-01-01")

    advance(api, "2027-01-10")
    assert act(api, placed["subscription_id"], "stop", {"effective": "now"})["ends_on"] == "2027-01-11"

    text = "Nordavisa (binding period, early stop)"
    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 25000),),
            25000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (Line(text, "2027-02-01", "2027-02-28", 25000), Line(text, "2027-03-01", "2027-03-31", 25000)),
            50000,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 75000
