"""A weekly plan paid by paper invoice: renewals that cannot get 14 days' notice keep their notice.

35.00 NOK a week from Friday 1 January 2027, paper invoice (issued 14 days ahead), 0 % VAT. The weeks
starting 8 and 15 January should have been invoiced before the order existed; the run issues them on the
next days (2 and 3 January, one renewal per run), each due 14 days after it was issued. From the week
of 22 January the invoices are on time: issued 14 days ahead, due on the week's first day.

| No. | Document | Period          | Issued     | Due        | Line      | Amount    |
|-----|----------|-----------------|------------|------------|-----------|-----------|
| 1   | invoice  | 1 Jan – 7 Jan   | 2027-01-01 | 2027-01-15 | Nordavisa | 35.00 NOK |
| 2   | invoice  | 8 Jan – 14 Jan  | 2027-01-02 | 2027-01-16 | Nordavisa | 35.00 NOK |
| 3   | invoice  | 15 Jan – 21 Jan | 2027-01-03 | 2027-01-17 | Nordavisa | 35.00 NOK |
| 4   | invoice  | 22 Jan – 28 Jan | 2027-01-08 | 2027-01-22 | Nordavisa | 35.00 NOK |
| 5   | invoice  | 29 Jan – 4 Feb  | 2027-01-15 | 2027-01-29 | Nordavisa | 35.00 NOK |
| –   | draft    | 5 Feb – 11 Feb  | 2027-01-22 | 2027-02-05 | Nordavisa | 35.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Catalog, Doc, Line, advance, documents, draft, order
from tests.scenario.conftest import Api


def week(number: int, issued: str, due: str, first: str, last: str) -> Doc:
    return Doc(number, "invoice", issued, due, (Line("Nordavisa", first, last, 3500),), 3500)


def test_weekly_plan_late_notice(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Uke", 3500, unit="week")), "2027-01-01")

    advance(api, "2027-01-15")

    assert documents(api, placed["customer_id"]) == [
        week(1, "2027-01-01", "2027-01-15", "2027-01-01", "2027-01-07"),
        week(2, "2027-01-02", "2027-01-16", "2027-01-08", "2027-01-14"),
        week(3, "2027-01-03", "2027-01-17", "2027-01-15", "2027-01-21"),
        week(4, "2027-01-08", "2027-01-22", "2027-01-22", "2027-01-28"),
        week(5, "2027-01-15", "2027-01-29", "2027-01-29", "2027-02-04"),
    ]
    assert draft(api, placed["subscription_id"]) == week(
        0, "2027-01-22", "2027-02-05", "2027-02-05", "2027-02-11"
    )
