"""Proration `whole_period`: an upgrade "now" applies to the whole period in progress.

Basic 300.00 NOK, Plus 450.00 NOK a month, both `proration: whole_period`, paper invoice, 0 % VAT. Kari
orders Basic on 1 January 2027, pays, and upgrades to Plus on 10 January. The whole of January becomes
Plus: Basic's January is credited in full, Plus's January invoiced.

| No. | Document    | Period         | Issued | Due    | Line                            | Amount      |
|-----|-------------|----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan | 1 Jan  | 15 Jan | Nordavisa (Basic)               | 300.00 NOK  |
| 2   | credit note | 1 Jan – 31 Jan | 10 Jan | 10 Jan | Nordavisa (31/31 days credited) | −300.00 NOK |
| 3   | invoice     | 1 Jan – 31 Jan | 10 Jan | 24 Jan | Nordavisa (Plus)                | 450.00 NOK  |

Balance: 450.00 − (300.00 paid, now credit) = 150.00 NOK owed.
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
    order,
    pay,
)
from tests.scenario.conftest import Api


def test_whole_period_upgrade(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    basic = catalog.plan("Basic", 30000, proration="whole_period")
    plus = catalog.plan("Plus", 45000, proration="whole_period")
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
            (Line("Nordavisa (31/31 days credited)", "2027-01-01", "2027-01-31", -30000),),
            -30000,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 45000),),
            45000,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 15000
