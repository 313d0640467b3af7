"""An unpaid month stopped "now" on its 9th day: only the days used stay owed.

279.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027 and, unpaid, stops on 9 January
(ends_on 2027-01-10). Invoice 1 is credited in full and the 9 days used invoiced again:
unused 27900 × 22/31 = 19800, used 27900 − 19800 = 81.00 NOK.

| No. | Document    | Period         | Issued | Due    | Line                            | Amount      |
|-----|-------------|----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan | 1 Jan  | 15 Jan | Nordavisa                       | 279.00 NOK  |
| 2   | credit note | 1 Jan – 31 Jan | 9 Jan  | 9 Jan  | Nordavisa (31/31 days credited) | −279.00 NOK |
| 3   | invoice     | 1 Jan – 9 Jan  | 9 Jan  | 23 Jan | Nordavisa (9/31 days used)      | 81.00 NOK   |

Balance: 81.00 NOK owed; invoice 1 is credited (nothing open).
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
    statuses,
)
from tests.scenario.conftest import Api


def test_stop_now_unpaid(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 27900)), "2027-01-01")

    advance(api, "2027-01-09")
    stopped = act(api, placed["subscription_id"], "stop", {"effective": "now"})
    assert stopped["ends_on"] == "2027-01-10"

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 27900),),
            27900,
        ),
        Doc(
            2,
            "credit note",
            "2027-01-09",
            "2027-01-09",
            (Line("Nordavisa (31/31 days credited)", "2027-01-01", "2027-01-31", -27900),),
            -27900,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-09",
            "2027-01-23",
            (Line("Nordavisa (9/31 days used)", "2027-01-01", "2027-01-09", 8100),),
            8100,
        ),
    ]
    assert statuses(api, placed["customer_id"])[1] == ("credited", 0)
    assert balance(api, placed["customer_id"]) == 8100
