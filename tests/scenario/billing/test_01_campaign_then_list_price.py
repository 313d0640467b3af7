"""Campaign, then list price.

Kari orders «Nordavisa digital» on 1 January 2027 through an offer with a campaign: 49.00 NOK a month for
the first two months, then the plan's list price of 199.00 NOK a month. Paper invoice (KID): the first
invoice is due 14 days after the order, renewals are issued 14 days before their month and due on its
first day. Newspapers are zero-rated (0 % VAT).

| No. | Document | Period         | Issued     | Due        | Line                   | Amount     |
|-----|----------|----------------|------------|------------|------------------------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa (campaign)   | 49.00 NOK  |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa (campaign)   | 49.00 NOK  |
| 3   | invoice  | 1 Mar – 31 Mar | 2027-02-15 | 2027-03-01 | Nordavisa (list price) | 199.00 NOK |
| –   | draft    | 1 Apr – 30 Apr | 2027-03-18 | 2027-04-01 | Nordavisa (list price) | 199.00 NOK |

The clock runs to 15 February 2027.
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, draft, order
from tests.scenario.conftest import Api


def test_campaign_then_list_price(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.plan("Nordavisa digital", 19900)
    placed = order(api, catalog.offer(plan, campaign=(4900, 2)), "2027-01-01")

    advance(api, "2027-02-15")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 4900),),
            4900,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 4900),),
            4900,
        ),
        Doc(
            3,
            "invoice",
            "2027-02-15",
            "2027-03-01",
            (Line("Nordavisa", "2027-03-01", "2027-03-31", 19900),),
            19900,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-03-18",
        "2027-04-01",
        (Line("Nordavisa", "2027-04-01", "2027-04-30", 19900),),
        19900,
    )
