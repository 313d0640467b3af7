"""A plan hands over to its next plan from a month-end start: the billing day stays on month ends.

«Prøvemåned» costs 99.00 NOK a month, is bound for one month and has `next_plan_id` «Standard» (249.00 NOK a
month). Kari orders on 30 January 2027 to start on 31 January. Paper invoice: the first invoice is issued
with the order, renewals 14 days before their period. 0 % VAT.

The binding ends on 28 February (February has no 31st), where Standard takes over; Standard bills on the
subscription's billing day, the 31st, clamped to shorter months: 31 March, 30 April... (It used to start
its own anniversary on 28 February and bill on 28 March, 28 April.)

The clock runs from 30 January to 14 February 2027.

| Document | Issued     | First day  | Last day   | Amount     |
|----------|------------|------------|------------|------------|
| invoice  | 2027-01-30 | 2027-01-31 | 2027-02-27 | 99.00 NOK  |
| invoice  | 2027-02-14 | 2027-02-28 | 2027-03-30 | 249.00 NOK |
| draft    | 2027-03-17 | 2027-03-31 | 2027-04-29 | 249.00 NOK |
"""

from __future__ import annotations

import pytest

from tests.scenario.billing.anchors import period_table, table_in
from tests.scenario.billing.conftest import Catalog, advance, order, subscription
from tests.scenario.conftest import Api

pytestmark = pytest.mark.clock_start("2027-01-30T08:00:00+00:00")


def test_month_end_list_price_then_next_plan(api: Api) -> None:
    catalog = Catalog(api)
    standard = catalog.plan("Standard", 24900)
    trial = catalog.plan("Prøvemåned", 9900, binding_periods=1, next_plan_id=standard)
    placed = order(api, catalog.offer(trial), "2027-01-31")
    assert subscription(api, placed["subscription_id"])["binding_end"] == "2027-02-28"

    advance(api, "2027-02-14")

    assert period_table(api, placed["customer_id"], placed["subscription_id"]) == table_in(__doc__)
