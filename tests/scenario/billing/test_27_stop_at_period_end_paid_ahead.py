"""A stop at period end after the next month was invoiced and paid: that month is credited in full.

300.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027; February is invoiced on 18
January and she pays both invoices that day, then stops with `effective: period_end` (ends_on 1 February).
January is kept; February is credited in full and the customer holds 300.00 NOK credit.

| No. | Document    | Period         | Issued | Due    | Line                            | Amount      |
|-----|-------------|----------------|--------|--------|---------------------------------|-------------|
| 1   | invoice     | 1 Jan – 31 Jan | 1 Jan  | 15 Jan | Nordavisa                       | 300.00 NOK  |
| 2   | invoice     | 1 Feb – 28 Feb | 18 Jan | 1 Feb  | Nordavisa                       | 300.00 NOK  |
| 3   | credit note | 1 Feb – 28 Feb | 18 Jan | 18 Jan | Nordavisa (28/28 days credited) | −300.00 NOK |

Balance: −300.00 NOK (credit).
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


def test_stop_at_period_end_paid_ahead(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Basic", 30000)), "2027-01-01")

    advance(api, "2027-01-18")
    for found in documents(api, placed["customer_id"]):
        assert found.number in (1, 2)
    pay(stack, api, placed["invoice_id"])
    second = [
        i
        for i in api.get(f"/v1/customers/{placed['customer_id']}/invoices").json()["items"]
        if i["number"] == 2
    ]
    pay(stack, api, second[0]["id"])
    stopped = act(api, placed["subscription_id"], "stop", {"effective": "period_end"})
    assert stopped["ends_on"] == "2027-02-01"

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
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 30000),),
            30000,
        ),
        Doc(
            3,
            "credit note",
            "2027-01-18",
            "2027-01-18",
            (Line("Nordavisa (28/28 days credited)", "2027-02-01", "2027-02-28", -30000),),
            -30000,
        ),
    ]
    assert balance(api, placed["customer_id"]) == -30000
