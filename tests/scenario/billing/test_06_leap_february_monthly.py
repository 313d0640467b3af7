"""A monthly subscription anchored on 31 January 2028 meets the leap day.

On 30 January 2027 Kari orders 290.00 NOK a month starting 2028-01-31 (paper invoice, 0 % VAT). In the
leap year the boundary after 31 January is 29 February (the month's last day), then 31 March.

| No. | Document | Period                    | Issued     | Due        | Line      | Amount     |
|-----|----------|---------------------------|------------|------------|-----------|------------|
| 1   | invoice  | 31 Jan 2028 – 28 Feb 2028 | 2027-01-30 | 2027-02-13 | Nordavisa | 290.00 NOK |
| –   | draft    | 29 Feb 2028 – 30 Mar 2028 | 2028-02-15 | 2028-02-29 | Nordavisa | 290.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, draft, order
from tests.scenario.conftest import Api


def test_leap_february_monthly(api: Api) -> None:
    catalog = Catalog(api)
    offer = catalog.offer(catalog.plan("Månedlig", 29000))

    advance(api, "2027-01-30")
    placed = order(api, offer, "2028-01-31")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-30",
            "2027-02-13",
            (Line("Nordavisa", "2028-01-31", "2028-02-28", 29000),),
            29000,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2028-02-15",
        "2028-02-29",
        (Line("Nordavisa", "2028-02-29", "2028-03-30", 29000),),
        29000,
    )
