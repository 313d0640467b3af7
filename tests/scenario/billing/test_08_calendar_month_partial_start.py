"""A calendar-aligned monthly plan bills a partial first month by its share of days.

310.00 NOK a month, `alignment: calendar`; Kari orders on 1 January 2027 to start on 15 January. The
first period runs 15–31 January: 17 of January's 31 days, 31000 × 17/31 = 17000 øre. From February the
periods are calendar months. Paper invoice, 0 % VAT.

| No. | Document | Period          | Issued     | Due        | Line      | Amount     |
|-----|----------|-----------------|------------|------------|-----------|------------|
| 1   | invoice  | 15 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa | 170.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb  | 2027-01-18 | 2027-02-01 | Nordavisa | 310.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, order
from tests.scenario.conftest import Api


def test_calendar_month_partial_start(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Kalender", 31000, alignment="calendar")), "2027-01-15")

    advance(api, "2027-01-18")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-15", "2027-01-31", 17000),),
            17000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 31000),),
            31000,
        ),
    ]
