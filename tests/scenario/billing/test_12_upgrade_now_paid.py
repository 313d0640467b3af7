"""An upgrade on day 10 of a paid month (by-days proration).

Basic 300.00 NOK, Plus 450.00 NOK a month, paper invoice, 0 % VAT. Kari orders Basic on 1 January 2027 and
pays invoice 1 at once. On 10 January she upgrades to Plus "now": 10 January is used on Basic, Plus starts
on 11 January. January has 31 days, 21 of them (11–31) unused.

* credit for Basic's unused days: 30000 × 21/31 = 20322.58 → 203.23 NOK
* Plus for 11–31 January: 45000 × 21/31 = 30483.87 → 304.84 NOK
* the credit pays invoice 3 in part: 304.84 − 203.23 = 101.61 NOK owed

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa (Basic)               | 300.00 NOK  |
| 2   | credit note | 11 Jan – 31 Jan | 10 Jan | 10 Jan | Nordavisa (21/31 days credited) | −203.23 NOK |
| 3   | invoice     | 11 Jan – 31 Jan | 10 Jan | 24 Jan | Nordavisa (Plus)                | 304.84 NOK  |
| –   | draft       | 1 Feb – 28 Feb  | 18 Jan | 1 Feb  | Nordavisa (Plus)                | 450.00 NOK  |

Balance after the change: 101.61 NOK owed.
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


def test_upgrade_now_paid(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    basic, plus = catalog.plan("Basic", 30000), catalog.plan("Plus", 45000)
    placed = order(api, catalog.offer(basic), "2027-01-01")
    pay(stack, api, placed["invoice_id"])

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
            (Line("Nordavisa (21/31 days credited)", "2027-01-11", "2027-01-31", -20323),),
            -20323,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (Line("Nordavisa", "2027-01-11", "2027-01-31", 30484),),
            30484,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 10161
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-01-18",
        "2027-02-01",
        (Line("Nordavisa", "2027-02-01", "2027-02-28", 45000),),
        45000,
    )
