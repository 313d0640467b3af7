"""An order placed in the night Oslo moves to summer time takes the Oslo date.

The clock stands at 2027-03-27 23:30 UTC, which is 00:30 CET on Sunday 28 March in Oslo (summer time
starts at 02:00 that night). Kari orders without a start date: the subscription starts on the business
date 2027-03-28, not on the UTC date 27 March. 199.00 NOK a month, paper invoice, 0 % VAT.

| No. | Document | Period          | Issued     | Due        | Line      | Amount     |
|-----|----------|-----------------|------------|------------|-----------|------------|
| 1   | invoice  | 28 Mar – 27 Apr | 2027-03-28 | 2027-04-11 | Nordavisa | 199.00 NOK |
| –   | draft    | 28 Apr – 27 May | 2027-04-14 | 2027-04-28 | Nordavisa | 199.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, draft, order, subscription
from tests.scenario.conftest import Api


def test_dst_night_order(api: Api) -> None:
    catalog = Catalog(api)
    offer = catalog.offer(catalog.plan("Månedlig", 19900))

    advance(api, "2027-03-27T23:30:00+00:00")
    placed = order(api, offer)

    assert subscription(api, placed["subscription_id"])["start_date"] == "2027-03-28"
    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-03-28",
            "2027-04-11",
            (Line("Nordavisa", "2027-03-28", "2027-04-27", 19900),),
            19900,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-04-14",
        "2027-04-28",
        (Line("Nordavisa", "2027-04-28", "2027-05-27", 19900),),
        19900,
    )
