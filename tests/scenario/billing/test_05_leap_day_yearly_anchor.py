"""A yearly subscription starting on the leap day 29 February 2028.

On 1 March 2027 (the first day a start on 29 February 2028 is within the one year an order may look ahead)
Kari orders a yearly plan of 1 990.00 NOK starting 2028-02-29, paper invoice, 0 % VAT. The anchor day is
kept: the next boundaries are 28 Feb 2029, 28 Feb 2030, 28 Feb 2031 and again 29 Feb 2032. The first
year runs 29 Feb 2028 – 27 Feb 2029 (365 days), full price.

| No. | Document | Period                    | Issued     | Due        | Line      | Amount       |
|-----|----------|---------------------------|------------|------------|-----------|--------------|
| 1   | invoice  | 29 Feb 2028 – 27 Feb 2029 | 2027-03-01 | 2027-03-15 | Nordavisa | 1 990.00 NOK |
| –   | draft    | 28 Feb 2029 – 27 Feb 2030 | 2029-02-14 | 2029-02-28 | Nordavisa | 1 990.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, draft, order
from tests.scenario.conftest import Api


def test_leap_day_yearly_anchor(api: Api) -> None:
    catalog = Catalog(api)
    offer = catalog.offer(catalog.plan("Årlig", 199000, unit="year"))

    advance(api, "2027-03-01")
    placed = order(api, offer, "2028-02-29")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-03-01",
            "2027-03-15",
            (Line("Nordavisa", "2028-02-29", "2029-02-27", 199000),),
            199000,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2029-02-14",
        "2029-02-28",
        (Line("Nordavisa", "2029-02-28", "2030-02-27", 199000),),
        199000,
    )
