"""A paid month stopped "now" on its 14th day.

310.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027, pays, and stops on 14 January:
the subscription ends at the end of 14 January (ends_on 2027-01-15). 17 of January's 31 days are unused:
31000 × 17/31 = 170.00 NOK credit, which the customer keeps. No more renewals.

| No. | Document    | Period          | Issued | Due    | Line                            | Amount      |
|-----|-------------|-----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nordavisa                       | 310.00 NOK  |
| 2   | credit note | 15 Jan – 31 Jan | 14 Jan | 14 Jan | Nordavisa (17/31 days credited) | −170.00 NOK |

Balance: −170.00 NOK (credit). Nothing more by 20 January.
"""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    act,
    advance,
    balance,
    documents,
    order,
    pay,
)
from tests.scenario.conftest import Api


def test_stop_now_paid(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 31000)), "2027-01-01")
    pay(stack, api, placed["invoice_id"])

    advance(api, "2027-01-14")
    stopped = act(api, placed["subscription_id"], "stop", {"effective": "now"})
    assert (stopped["status"], stopped["ends_on"], stopped["next_invoice"]) == ("stopped", "2027-01-15", None)
    advance(api, "2027-01-20")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 31000),),
            31000,
        ),
        Doc(
            2,
            "credit note",
            "2027-01-14",
            "2027-01-14",
            (Line("Nordavisa (17/31 days credited)", "2027-01-15", "2027-01-31", -17000),),
            -17000,
        ),
    ]
    assert balance(api, placed["customer_id"]) == -17000
