"""A calendar-aligned quarterly plan started mid-quarter.

900.00 NOK a quarter, `alignment: calendar` (quarters start 1 Jan, 1 Apr, 1 Jul, 1 Oct). Kari orders on
1 January 2027 to start on 10 February. The first period, 10 Feb – 31 Mar, is 50 of the first quarter's
90 days: 90000 × 50/90 = 50000 øre. Then whole quarters. Paper invoice, 0 % VAT.

| No. | Document | Period          | Issued     | Due        | Line      | Amount     |
|-----|----------|-----------------|------------|------------|-----------|------------|
| 1   | invoice  | 10 Feb – 31 Mar | 2027-01-01 | 2027-01-15 | Nordavisa | 500.00 NOK |
| –   | draft    | 1 Apr – 30 Jun  | 2027-03-18 | 2027-04-01 | Nordavisa | 900.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, documents, draft, order
from tests.scenario.conftest import Api


def test_calendar_quarter_partial_start(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.plan("Kvartal", 90000, count=3, alignment="calendar")
    placed = order(api, catalog.offer(plan), "2027-02-10")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-02-10", "2027-03-31", 50000),),
            50000,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-03-18",
        "2027-04-01",
        (Line("Nordavisa", "2027-04-01", "2027-06-30", 90000),),
        90000,
    )
