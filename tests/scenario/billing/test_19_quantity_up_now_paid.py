"""Quantity up from 1 to 3 on day 10 of a paid month (by-days proration).

300.00 NOK a month per copy, paper invoice, 0 % VAT. Kari orders one copy on 1 January 2027, pays, and on
10 January changes to three copies "now" (from 11 January; 21 of 31 days left).

* credit for the one copy's unused days: 30000 × 21/31 = 20322.58 → 203.23 NOK
* three copies for 11–31 January, one line rounded once: 3 × 30000 × 21/31 = 60967.74 → 609.68 NOK
* owed after the credit: 609.68 − 203.23 = 406.45 NOK

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa × 1                   | 300.00 NOK  |
| 2   | credit note | 11 Jan – 31 Jan | 10 Jan | 10 Jan | Nordavisa (21/31 days credited) | −203.23 NOK |
| 3   | invoice     | 11 Jan – 31 Jan | 10 Jan | 24 Jan | Nordavisa × 3                   | 609.68 NOK  |
| –   | draft       | 1 Feb – 28 Feb  | 18 Jan | 1 Feb  | Nordavisa × 3                   | 900.00 NOK  |
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


def test_quantity_up_now_paid(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01")
    pay(stack, api, placed["invoice_id"])

    advance(api, "2027-01-10")
    act(api, placed["subscription_id"], "change", {"quantity": 3, "effective": "now"})

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
            "credit note",
            "2027-01-10",
            "2027-01-10",
            (Line("Nordavisa (21/31 days credited)", "2027-01-11", "2027-01-31", -20323),),
            -20323,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (Line("Nordavisa", "2027-01-11", "2027-01-31", 60968, quantity=3),),
            60968,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 40645
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-01-18",
        "2027-02-01",
        (Line("Nordavisa", "2027-02-01", "2027-02-28", 90000, quantity=3),),
        90000,
    )
