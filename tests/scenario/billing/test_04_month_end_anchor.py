"""A subscription starting on the 31st keeps its billing day through short months.

Kari orders on 1 January 2027 to start on 31 January, 279.00 NOK a month, paper invoice, 0 % VAT.
Boundaries are computed from the anchor: 31 Jan, 28 Feb (February has no 31st), 31 Mar — never 28 Mar.
Every period costs the full monthly price, whatever its length (28, 31, 30 days).

| No. | Document | Period                 | Issued     | Due        | Line      | Amount     |
|-----|----------|------------------------|------------|------------|-----------|------------|
| 1   | invoice  | 31 Jan – 27 Feb (28 d) | 2027-01-01 | 2027-01-15 | Nordavisa | 279.00 NOK |
| 2   | invoice  | 28 Feb – 30 Mar (31 d) | 2027-02-14 | 2027-02-28 | Nordavisa | 279.00 NOK |
| –   | draft    | 31 Mar – 29 Apr (30 d) | 2027-03-17 | 2027-03-31 | Nordavisa | 279.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, draft, order
from tests.scenario.conftest import Api


def test_month_end_anchor(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Månedlig", 27900)), "2027-01-31")

    advance(api, "2027-02-14")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-31", "2027-02-27", 27900),),
            27900,
        ),
        Doc(
            2,
            "invoice",
            "2027-02-14",
            "2027-02-28",
            (Line("Nordavisa", "2027-02-28", "2027-03-30", 27900),),
            27900,
        ),
    ]
    assert draft(api, placed["subscription_id"]) == Doc(
        0,
        "invoice",
        "2027-03-17",
        "2027-03-31",
        (Line("Nordavisa", "2027-03-31", "2027-04-29", 27900),),
        27900,
    )
