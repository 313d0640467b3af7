"""Campaign, then the offer's after-campaign plan.

The offer sells «Helg» (149.00 NOK a month) with one campaign month at 1.00 NOK; after the campaign the
subscription moves to «Komplett» (299.00 NOK a month), not to Helg's list price. Paper invoice, 0 % VAT.

| No. | Document | Period         | Issued     | Due        | Line                 | Amount     |
|-----|----------|----------------|------------|------------|----------------------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa (campaign) | 1.00 NOK   |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa (Komplett) | 299.00 NOK |
| –   | draft    | 1 Mar – 31 Mar | 2027-02-15 | 2027-03-01 | Nordavisa (Komplett) | 299.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, draft, order
from tests.scenario.conftest import Api


def test_campaign_then_after_campaign_plan(api: Api) -> None:
    catalog = Catalog(api)
    helg = catalog.plan("Helg", 14900)
    komplett = catalog.plan("Komplett", 29900)
    placed = order(api, catalog.offer(helg, campaign=(100, 1), after_campaign=komplett), "2027-01-01")

    advance(api, "2027-01-18")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 100),),
            100,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 29900),),
            29900,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-02-15",
        "2027-03-01",
        (Line("Nordavisa", "2027-03-01", "2027-03-31", 29900),),
        29900,
    )
