"""An upgrade at period end moves no money now; the next month is billed on the new plan.

Basic 300.00 NOK, Plus 450.00 NOK a month, paper invoice, 0 % VAT. Kari orders Basic on 1 January 2027; on
10 January she upgrades with `effective: period_end`. Nothing is credited or charged; February's draft,
issued on 18 January, is Plus.

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


def test_upgrade_at_period_end(api: Api) -> None:
    catalog = Catalog(api)
    basic, plus = catalog.plan("Basic", 30000), catalog.plan("Plus", 45000)
    placed = order(api, catalog.offer(basic), "2027-01-01")

    advance(api, "2027-01-10")
    act(api, placed["subscription_id"], "change", {"plan_id": plus, "effective": "period_end"})
    assert len(documents(api, placed["customer_id"])) == 1

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
