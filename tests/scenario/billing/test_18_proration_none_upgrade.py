"""Proration `none`: an upgrade "now" keeps the month in progress as invoiced.

Basic 300.00 NOK, Plus 450.00 NOK a month, `proration: none`, paper invoice, 0 % VAT. Kari orders Basic
on 1 January 2027 and upgrades to Plus on 10 January. No credit note, no extra invoice; February is
Plus.

| No. | Document | Period         | Issued     | Due        | Line              | Amount     |
|-----|----------|----------------|------------|------------|-------------------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa (Basic) | 300.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa (Plus)  | 450.00 NOK |
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


def test_proration_none_upgrade(api: Api) -> None:
    catalog = Catalog(api)
    basic = catalog.plan("Basic", 30000, proration="none")
    plus = catalog.plan("Plus", 45000, proration="none")
    placed = order(api, catalog.offer(basic), "2027-01-01")

    advance(api, "2027-01-10")
    act(api, placed["subscription_id"], "change", {"plan_id": plus, "effective": "now"})
    advance(api, "2027-01-18")

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
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 45000),),
            45000,
        ),
    ]
