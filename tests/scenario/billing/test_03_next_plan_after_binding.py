"""A plan hands over to its next plan when its binding ends.

«Intro» costs 99.00 NOK a month with a binding of two months and `next_plan_id` «Standard» (249.00 NOK a
month). Kari orders on 1 January 2027; January and February are Intro, March is Standard. Paper invoice,
0 % VAT. The subscription is bound until 1 March (`binding_end` 2027-03-01).

| No. | Document | Period         | Issued     | Due        | Line                 | Amount     |
|-----|----------|----------------|------------|------------|----------------------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa (Intro)    | 99.00 NOK  |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa (Intro)    | 99.00 NOK  |
| 3   | invoice  | 1 Mar – 31 Mar | 2027-02-15 | 2027-03-01 | Nordavisa (Standard) | 249.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, order, subscription
from tests.scenario.conftest import Api


def test_next_plan_after_binding(api: Api) -> None:
    catalog = Catalog(api)
    standard = catalog.plan("Standard", 24900)
    intro = catalog.plan("Intro", 9900, binding_periods=2, next_plan_id=standard)
    placed = order(api, catalog.offer(intro), "2027-01-01")
    assert subscription(api, placed["subscription_id"])["binding_end"] == "2027-03-01"

    advance(api, "2027-02-15")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 9900),),
            9900,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 9900),),
            9900,
        ),
        Doc(
            3,
            "invoice",
            "2027-02-15",
            "2027-03-01",
            (Line("Nordavisa", "2027-03-01", "2027-03-31", 24900),),
            24900,
        ),
    ]
