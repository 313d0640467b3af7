"""A downgrade at period end after the next month was already invoiced on the old plan.

Plus 450.00 NOK, Basic 300.00 NOK a month, paper invoice, 0 % VAT. Kari orders Plus on 1 January 2027. On
18 January February is invoiced (Plus). On 20 January she downgrades with `effective: period_end`: from
1 February. February's Plus invoice is credited in full and February is invoiced again on Basic (issued
on the day of the change, so due 14 days later). January is untouched.

| No. | Document    | Period         | Issued | Due    | Line                            | Amount      |
|-----|-------------|----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan | 1 Jan  | 15 Jan | Nordavisa (Plus)                | 450.00 NOK  |
| 2   | invoice     | 1 Feb – 28 Feb | 18 Jan | 1 Feb  | Nordavisa (Plus)                | 450.00 NOK  |
| 3   | credit note | 1 Feb – 28 Feb | 20 Jan | 20 Jan | Nordavisa (28/28 days credited) | −450.00 NOK |
| 4   | invoice     | 1 Feb – 28 Feb | 20 Jan | 3 Feb  | Nordavisa (Basic)               | 300.00 NOK  |
| –   | draft       | 1 Mar – 31 Mar | 15 Feb | 1 Mar  | Nordavisa (Basic)               | 300.00 NOK  |
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


def test_downgrade_at_period_end_after_renewal(api: Api) -> None:
    catalog = Catalog(api)
    plus, basic = catalog.plan("Plus", 45000), catalog.plan("Basic", 30000)
    placed = order(api, catalog.offer(plus), "2027-01-01")

    advance(api, "2027-01-20")
    act(api, placed["subscription_id"], "change", {"plan_id": basic, "effective": "period_end"})

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
            (Line("Nordavisa (28/28 days credited)", "2027-02-01", "2027-02-28", -45000),),
            -45000,
        ),
        Doc(
            4,
            "invoice",
            "2027-01-20",
            "2027-02-03",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),),
            30000,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 75000
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-02-15",
        "2027-03-01",
        (Line("Nordavisa", "2027-03-01", "2027-03-31", 30000),),
        30000,
    )
