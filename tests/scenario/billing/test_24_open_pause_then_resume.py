"""An open-ended pause, resumed nine days later.

300.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027. On 10 January, unpaid, she
pauses from 12 January with no end: January is credited and 1–11 January invoiced again; no renewal is
drafted. On 20 January she resumes (from 21 January): 21–31 January is invoiced. February's invoice,
whose issue date (18 January) has passed, is issued by the next run on 21 January with its 14 days'
notice, due 4 February.

* 1–11 January used: 30000 − 30000 × 20/31 (19354.84 → 19355) = 106.45 NOK
* 21–31 January: 30000 × 11/31 = 10645.16 → 106.45 NOK

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa                       | 300.00 NOK  |
| 2   | credit note | 1 Jan – 31 Jan  | 10 Jan | 10 Jan | Nordavisa (31/31 days credited) | −300.00 NOK |
| 3   | invoice     | 1 Jan – 11 Jan  | 10 Jan | 24 Jan | Nordavisa (11/31 days used)     | 106.45 NOK  |
| 4   | invoice     | 21 Jan – 31 Jan | 20 Jan | 3 Feb  | Nordavisa                       | 106.45 NOK  |
| 5   | invoice     | 1 Feb – 28 Feb  | 21 Jan | 4 Feb  | Nordavisa                       | 300.00 NOK  |

Balance: 106.45 + 106.45 + 300.00 = 512.90 NOK owed.
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


def test_open_pause_then_resume(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01")
    sub = placed["subscription_id"]

    advance(api, "2027-01-10")
    assert act(api, sub, "pause", {"from": "2027-01-12"})["next_invoice"] is None
    advance(api, "2027-01-20")
    act(api, sub, "resume", {})
    advance(api, "2027-01-21")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 30000),),
            30000,
        ),
        Doc(
            2,
            "credit note",
            "2027-01-10",
            "2027-01-10",
            (Line("Nordavisa (31/31 days credited)", "2027-01-01", "2027-01-31", -30000),),
            -30000,
        ),
        Doc(
            3,
            "invoice",
            "2027-01-10",
            "2027-01-24",
            (Line("Nordavisa (11/31 days used)", "2027-01-01", "2027-01-11", 10645),),
            10645,
        ),
        Doc(
            4,
            "invoice",
            "2027-01-20",
            "2027-02-03",
            (Line("Nordavisa", "2027-01-21", "2027-01-31", 10645),),
            10645,
        ),
        Doc(
            5,
            "invoice",
            "2027-01-21",
            "2027-02-04",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),),
            30000,
        ),
    ]
    assert balance(api, placed["customer_id"]) == 51290
