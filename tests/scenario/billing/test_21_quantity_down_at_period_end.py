"""Quantity down from 3 to 1 at period end: January stays, February is billed for one copy.

300.00 NOK a month per copy, paper invoice, 0 % VAT. Kari orders three copies on 1 January 2027 and on
10 January changes to one copy with `effective: period_end`.

| No. | Document | Period         | Issued     | Due        | Line          | Amount     |
|-----|----------|----------------|------------|------------|---------------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa × 3 | 900.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa × 1 | 300.00 NOK |
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


def test_quantity_down_at_period_end(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01", quantity=3)

    advance(api, "2027-01-10")
    act(api, placed["subscription_id"], "change", {"quantity": 1, "effective": "period_end"})
    advance(api, "2027-01-18")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 90000, quantity=3),),
            90000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),),
            30000,
        ),
    ]
