"""A stop at period end before the next month is invoiced: January stays owed, nothing else comes.

300.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027 and on 10 January, unpaid, stops
with `effective: period_end` (ends_on 1 February). No credit note; February is never invoiced (the run
on 18 January issues nothing).

| No. | Document | Period         | Issued     | Due        | Line      | Amount     |
|-----|----------|----------------|------------|------------|-----------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa | 300.00 NOK |

Balance: 300.00 NOK owed.
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    act,
    advance,
    balance,
    documents,
    order,
)
from tests.scenario.conftest import Api


def test_stop_at_period_end_unpaid(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01")

    advance(api, "2027-01-10")
    stopped = act(api, placed["subscription_id"], "stop", {})
    assert (stopped["ends_on"], stopped["next_invoice"]) == ("2027-02-01", None)
    advance(api, "2027-01-20")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 30000),),
            30000,
        )
    ]
    assert balance(api, placed["customer_id"]) == 30000
