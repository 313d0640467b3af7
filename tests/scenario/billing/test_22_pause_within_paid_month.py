"""A week's pause inside a paid month.

300.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027 and pays. On 10 January she
pauses from 16 January until 23 January (16–22 January paused). The paid days from 16 January are
credited; the days after the pause, 23–31 January, are invoiced again (the billing day stays the 1st).

* credit 30000 × 16/31 = 15483.87 → 154.84 NOK (16–31 January)
* 23–31 January: 30000 × 9/31 = 8709.68 → 87.10 NOK, paid by the credit
* the customer keeps 154.84 − 87.10 = 67.74 NOK credit

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa                       | 300.00 NOK  |
| 2   | credit note | 16 Jan – 31 Jan | 10 Jan | 10 Jan | Nordavisa (16/31 days credited) | −154.84 NOK |
| 3   | invoice     | 23 Jan – 31 Jan | 10 Jan | 24 Jan | Nordavisa                       | 87.10 NOK   |
| –   | draft       | 1 Feb – 28 Feb  | 18 Jan | 1 Feb  | Nordavisa                       | 300.00 NOK  |
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


def test_pause_within_paid_month(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01")
    pay(stack, api, placed["invoice_id"])

    advance(api, "2027-01-10")
    act(api, placed["subscription_id"], "pause", {"from": "2027-01-16", "until": "2027-01-23"})

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
            (Line("Nordavisa (16/31 days credited)", "2027-01-16", "2027-01-31", -15484),),
            -15484,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (Line("Nordavisa", "2027-01-23", "2027-01-31", 8710),),
            8710,
        ),
    ]
    assert balance(api, placed["customer_id"]) == -6774
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-01-18",
        "2027-02-01",
        (Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),),
        30000,
    )
