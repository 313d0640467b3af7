"""Campaign, then list price, from 31 January: the billing day stays on month ends.

Kari orders «Nordavisa digital» on 30 January 2027 to start on 31 January, through an offer with a
campaign of 49.00 NOK a month for three months, then the plan's list price of 199.00 NOK a month. Paper
invoice: the first invoice is issued with the order, renewals 14 days before their period. 0 % VAT. Every
period costs the full monthly price, whatever its length.

The campaign's last period ends on 30 April (April has no 31st). The list price goes on from there on the
subscription's billing day, the 31st, clamped to shorter months: 31 May, 30 June, 31 July... (It used to
start its own anniversary on 30 April and bill on 30 May, 30 June, 30 July.)

The clock runs from 30 January to 16 April 2027.

| Document | Issued     | First day  | Last day   | Amount     |
|----------|------------|------------|------------|------------|
| invoice  | 2027-01-30 | 2027-01-31 | 2027-02-27 | 49.00 NOK  |
| invoice  | 2027-02-14 | 2027-02-28 | 2027-03-30 | 49.00 NOK  |
| invoice  | 2027-03-17 | 2027-03-31 | 2027-04-29 | 49.00 NOK  |
| invoice  | 2027-04-16 | 2027-04-30 | 2027-05-30 | 199.00 NOK |
| draft    | 2027-05-17 | 2027-05-31 | 2027-06-29 | 199.00 NOK |
"""

from __future__ import annotations

import pytest

from tests.scenario.billing.anchors import period_table, table_in
from tests.scenario.billing.conftest import Catalog, advance, order
from tests.scenario.conftest import Api

pytestmark = pytest.mark.clock_start("2027-01-30T08:00:00+00:00")


def test_month_end_campaign_then_list_price(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.plan("Nordavisa digital", 19900)
    placed = order(api, catalog.offer(plan, campaign=(4900, 3)), "2027-01-31")

    advance(api, "2027-04-16")

    assert period_table(api, placed["customer_id"], placed["subscription_id"]) == table_in(__doc__)
