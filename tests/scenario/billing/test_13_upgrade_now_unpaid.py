"""An upgrade on day 10 of an unpaid month (by-days proration).

Basic 300.00 NOK, Plus 450.00 NOK a month, paper invoice, 0 % VAT. Kari orders Basic on 1 January 2027 and
has not paid when she upgrades to Plus on 10 January (Plus from 11 January). The unpaid invoice is
credited in full and one new invoice holds what is owed: the 10 days used on Basic and 21 days of Plus.

* Basic's unused share 30000 × 21/31 = 20322.58 → 20323; days used: 30000 − 20323 = 96.77 NOK
* Plus for 11–31 January: 45000 × 21/31 = 30483.87 → 304.84 NOK

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa (Basic)               | 300.00 NOK  |
| 2   | credit note | 1 Jan – 31 Jan  | 10 Jan | 10 Jan | Nordavisa (31/31 days credited) | −300.00 NOK |
| 3   | invoice     | 1 Jan – 10 Jan  | 10 Jan | 24 Jan | Nordavisa (10/31 days used)     | 96.77 NOK   |
|     |             | 11 Jan – 31 Jan |        |        | Nordavisa (Plus)                | 304.84 NOK  |
|     |             |                 |        |        | total                           | 401.61 NOK  |

Balance: 401.61 NOK owed.
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


def test_upgrade_now_unpaid(api: Api) -> None:
    catalog = Catalog(api)
    basic, plus = catalog.plan("Basic", 30000), catalog.plan("Plus", 45000)
    placed = order(api, catalog.offer(basic), "2027-01-01")

    advance(api, "2027-01-10")
    act(api, placed["subscription_id"], "change", {"plan_id": plus, "effective": "now"})

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
            (Line("Nordavisa (31/31 days credited)", "2027-01-01", "2027-01-31", -30000),),
            -30000,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (
                Line("Nordavisa (10/31 days used)", "2027-01-01", "2027-01-10", 9677),
                Line("Nordavisa", "2027-01-11", "2027-01-31", 30484),
            ),
            40161,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 40161
