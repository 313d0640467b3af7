"""Quantity down from 2 to 1 on day 10 of an unpaid month (by-days proration).

300.00 NOK a month per copy, paper invoice, 0 % VAT. Kari orders two copies on 1 January 2027 (600.00 NOK)
and, unpaid, changes to one copy on 10 January (from 11 January). The unpaid invoice is credited in
full; the new invoice holds the days used by two copies and the rest of January for one.

* two copies' unused share: 60000 × 21/31 = 40645.16 → 40645; used: 60000 − 40645 = 193.55 NOK
* one copy for 11–31 January: 30000 × 21/31 = 20322.58 → 203.23 NOK

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa × 2                   | 600.00 NOK  |
| 2   | credit note | 1 Jan – 31 Jan  | 10 Jan | 10 Jan | Nordavisa (31/31 days credited) | −600.00 NOK |
| 3   | invoice     | 1 Jan – 10 Jan  | 10 Jan | 24 Jan | Nordavisa (10/31 days used)     | 193.55 NOK  |
|     |             | 11 Jan – 31 Jan |        |        | Nordavisa × 1                   | 203.23 NOK  |
|     |             |                 |        |        | total                           | 396.78 NOK  |
| –   | draft       | 1 Feb – 28 Feb  | 18 Jan | 1 Feb  | Nordavisa × 1                   | 300.00 NOK  |
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
    draft,
    order,
)
from tests.scenario.conftest import Api


def test_quantity_down_now_unpaid(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01", quantity=2)

    advance(api, "2027-01-10")
    act(api, placed["subscription_id"], "change", {"quantity": 1, "effective": "now"})

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 60000, quantity=2),),
            60000,
        ),
        Doc(
            2,
            "credit note",
            "2027-01-10",
            "2027-01-10",
            (Line("Nordavisa (31/31 days credited)", "2027-01-01", "2027-01-31", -60000),),
            -60000,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (
                Line("Nordavisa (10/31 days used)", "2027-01-01", "2027-01-10", 19355),
                Line("Nordavisa", "2027-01-11", "2027-01-31", 20323),
            ),
            39678,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 39678
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-01-18",
        "2027-02-01",
        (Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),),
        30000,
    )
