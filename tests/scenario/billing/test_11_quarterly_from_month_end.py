"""A quarterly anniversary plan anchored on 31 January.

747.00 NOK a quarter, ordered on 1 January 2027 to start 31 January, paper invoice, 0 % VAT. The anchor
31 January gives the boundaries 31 Jan, 30 Apr (April has no 31st), 31 Jul, 31 Oct.

| No. | Document | Period          | Issued     | Due        | Line      | Amount     |
|-----|----------|-----------------|------------|------------|-----------|------------|
| 1   | invoice  | 31 Jan – 29 Apr | 2027-01-01 | 2027-01-15 | Nordavisa | 747.00 NOK |
| –   | draft    | 30 Apr – 30 Jul | 2027-04-16 | 2027-04-30 | Nordavisa | 747.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, documents, draft, order
from tests.scenario.conftest import Api


def test_quarterly_from_month_end(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Kvartal", 74700, count=3)), "2027-01-31")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-31", "2027-04-29", 74700),),
            74700,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-04-16",
        "2027-04-30",
        (Line("Nordavisa", "2027-04-30", "2027-07-30", 74700),),
        74700,
    )
