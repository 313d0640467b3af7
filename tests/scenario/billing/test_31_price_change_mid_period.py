"""A price change effective mid-month applies from the first period starting on or after it.

199.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027; the same day the publisher
schedules 229.00 NOK from 15 February 2027. February (starting 1 February, before the change) keeps
199.00; March is the first period starting on or after 15 February: 229.00.

| No. | Document | Period         | Issued     | Due        | Line      | Amount     |
|-----|----------|----------------|------------|------------|-----------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa | 199.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa | 199.00 NOK |
| –   | draft    | 1 Mar – 31 Mar | 2027-02-15 | 2027-03-01 | Nordavisa | 229.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    advance,
    documents,
    draft,
    order,
)
from tests.scenario.conftest import Api


def test_price_change_mid_period(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.plan("Basic", 19900)
    placed = order(api, catalog.offer(plan), "2027-01-01")
    api.created(
        f"/v1/plans/{plan}/price-changes", {"price": {"amount": 22900}, "effective_date": "2027-02-15"}
    )

    advance(api, "2027-01-18")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 19900),),
            19900,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 19900),),
            19900,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-02-15",
        "2027-03-01",
        (Line("Nordavisa", "2027-03-01", "2027-03-31", 22900),),
        22900,
    )
