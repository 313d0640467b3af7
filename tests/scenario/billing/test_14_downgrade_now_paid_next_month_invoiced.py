"""A downgrade on 20 January, after February was invoiced ahead (by-days proration).

Plus 450.00 NOK, Basic 300.00 NOK a month, paper invoice, 0 % VAT. Kari orders Plus on 1 January 2027 and
pays invoice 1. The run issues February on 18 January. On 20 January she downgrades to Basic "now"
(Basic from 21 January; 11 of January's 31 days unused).

* January, paid: credit 45000 × 11/31 = 15967.74 → 159.68 NOK
* February, issued but starting after the change: credited in full, 450.00 NOK
* Basic for 21–31 January: 30000 × 11/31 = 10645.16 → 106.45 NOK, and February on Basic, 300.00 NOK

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa (Plus)                | 450.00 NOK  |
| 2   | invoice     | 1 Feb – 28 Feb  | 18 Jan | 1 Feb  | Nordavisa (Plus)                | 450.00 NOK  |
| 3   | credit note | 21 Jan – 31 Jan | 20 Jan | 20 Jan | Nordavisa (11/31 days credited) | −159.68 NOK |
| 4   | credit note | 1 Feb – 28 Feb  | 20 Jan | 20 Jan | Nordavisa (28/28 days credited) | −450.00 NOK |
| 5   | invoice     | 21 Jan – 31 Jan | 20 Jan | 3 Feb  | Nordavisa (Basic)               | 106.45 NOK  |
|     |             | 1 Feb – 28 Feb  |        |        | Nordavisa (Basic)               | 300.00 NOK  |
|     |             |                 |        |        | total                           | 406.45 NOK  |
| –   | draft       | 1 Mar – 31 Mar  | 15 Feb | 1 Mar  | Nordavisa (Basic)               | 300.00 NOK  |

Balance: invoiced 450 + 450 − 159.68 − 450 + 406.45 = 696.77, paid 450.00: 246.77 NOK owed.
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
    draft,
    order,
    pay,
)
from tests.scenario.conftest import Api


def test_downgrade_now_paid_next_month_invoiced(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    plus, basic = catalog.plan("Plus", 45000), catalog.plan("Basic", 30000)
    placed = order(api, catalog.offer(plus), "2027-01-01")
    pay(stack, api, placed["invoice_id"])

    advance(api, "2027-01-20")
    act(api, placed["subscription_id"], "change", {"plan_id": basic, "effective": "now"})

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 45000),),
            45000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 45000),),
            45000,
        ),
        Doc(
            3,
            "credit note",
            "2027-01-20",
            "2027-01-20",
            (Line("Nordavisa (11/31 days credited)", "2027-01-21", "2027-01-31", -15968),),
            -15968,
        ),
        Doc(
            4,
            "credit note",
            "2027-01-20",
            "2027-01-20",
            (Line("Nordavisa (28/28 days credited)", "2027-02-01", "2027-02-28", -45000),),
            -45000,
        ),
        Doc(
            5,
            "invoice",
            "2027-01-20",
            "2027-02-03",
            (
                Line("Nordavisa", "2027-01-21", "2027-01-31", 10645),
                Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),
            ),
            40645,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 24677
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-02-15",
        "2027-03-01",
        (Line("Nordavisa", "2027-03-01", "2027-03-31", 30000),),
        30000,
    )
