"""A pause across a month end, with January and February invoiced and unpaid.

310.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027; February is invoiced on 18
January. On 20 January, nothing paid, she pauses from 25 January until 10 February. Both unpaid
invoices are credited in full; one invoice holds what is owed: 1–24 January and 10–28 February.

* January used: 31000 − 31000 × 7/31 (= 7000) = 240.00 NOK
* 10–28 February: 31000 × 19/28 = 21035.71 → 210.36 NOK

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa                       | 310.00 NOK  |
| 2   | invoice     | 1 Feb – 28 Feb  | 18 Jan | 1 Feb  | Nordavisa                       | 310.00 NOK  |
| 3   | credit note | 1 Jan – 31 Jan  | 20 Jan | 20 Jan | Nordavisa (31/31 days credited) | −310.00 NOK |
| 4   | credit note | 1 Feb – 28 Feb  | 20 Jan | 20 Jan | Nordavisa (28/28 days credited) | −310.00 NOK |
| 5   | invoice     | 1 Jan – 24 Jan  | 20 Jan | 3 Feb  | Nordavisa (24/31 days used)     | 240.00 NOK  |
|     |             | 10 Feb – 28 Feb |        |        | Nordavisa                       | 210.36 NOK  |
|     |             |                 |        |        | total                           | 450.36 NOK  |
| –   | draft       | 1 Mar – 31 Mar  | 15 Feb | 1 Mar  | Nordavisa                       | 310.00 NOK  |
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


def test_pause_across_period_end_unpaid(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 31000)), "2027-01-01")

    advance(api, "2027-01-20")
    act(api, placed["subscription_id"], "pause", {"from": "2027-01-25", "until": "2027-02-10"})

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 31000),),
            31000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 31000),),
            31000,
        ),
        Doc(
            3,
            "credit note",
            "2027-01-20",
            "2027-01-20",
            (Line("Nordavisa (31/31 days credited)", "2027-01-01", "2027-01-31", -31000),),
            -31000,
        ),
        Doc(
            4,
            "credit note",
            "2027-01-20",
            "2027-01-20",
            (Line("Nordavisa (28/28 days credited)", "2027-02-01", "2027-02-28", -31000),),
            -31000,
        ),
        Doc(
            5,
            "invoice",
            "2027-01-20",
            "2027-02-03",
            (
                Line("Nordavisa (24/31 days used)", "2027-01-01", "2027-01-24", 24000),
                Line("Nordavisa", "2027-02-10", "2027-02-28", 21036),
            ),
            45036,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 45036
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-02-15",
        "2027-03-01",
        (Line("Nordavisa", "2027-03-01", "2027-03-31", 31000),),
        31000,
    )
