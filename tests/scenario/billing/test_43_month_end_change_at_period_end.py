"""A plan change at period end from a month-end start: the new plan keeps the billing day.

«Månedlig» costs 199.00 NOK a month, «Kvartal» 549.00 NOK a quarter. Kari orders Månedlig on 30 January
2027 to start on 31 January; on 1 February she changes to Kvartal with `effective: period_end`, so Kvartal
starts on 28 February (February has no 31st). Its quarters end on the subscription's billing day, the 31st,
clamped to shorter months: 31 May, 31 August... (It used to start its own anniversary on 28 February and
bill on 28 May, 28 August.) Paper invoice: the first invoice is issued with the order, renewals 14 days
before their period. 0 % VAT.

The clock runs from 30 January to 14 February 2027.

| Document | Issued     | First day  | Last day   | Amount     |
|----------|------------|------------|------------|------------|
| invoice  | 2027-01-30 | 2027-01-31 | 2027-02-27 | 199.00 NOK |
| invoice  | 2027-02-14 | 2027-02-28 | 2027-05-30 | 549.00 NOK |
| draft    | 2027-05-17 | 2027-05-31 | 2027-08-30 | 549.00 NOK |
"""

from __future__ import annotations

import pytest

from tests.scenario.billing.anchors import period_table, table_in
from tests.scenario.billing.conftest import Catalog, act, advance, order
from tests.scenario.conftest import Api

pytestmark = pytest.mark.clock_start("2027-01-30T08:00:00+00:00")


def test_month_end_change_at_period_end(api: Api) -> None:
    catalog = Catalog(api)
    monthly = catalog.plan("Månedlig", 19900)
    quarterly = catalog.plan("Kvartal", 54900, count=3)
    placed = order(api, catalog.offer(monthly), "2027-01-31")

    advance(api, "2027-02-01")
    act(api, placed["subscription_id"], "change", {"plan_id": quarterly, "effective": "period_end"})

    advance(api, "2027-02-14")

    assert period_table(api, placed["customer_id"], placed["subscription_id"]) == table_in(__doc__)
