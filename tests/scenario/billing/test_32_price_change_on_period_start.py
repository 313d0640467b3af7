"""A price change effective on a period's first day applies to that period; the draft follows at once.

199.00 NOK a month, paper invoice, 0 % VAT. Kari orders on 1 January 2027; then the publisher schedules
229.00 NOK from 1 February 2027. February's draft is rebuilt at the new price (by a queued worker, so
the test waits for it) and issued on 18 January.

| No. | Document | Period         | Issued     | Due        | Line      | Amount     |
|-----|----------|----------------|------------|------------|-----------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa | 199.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa | 229.00 NOK |
"""

from __future__ import annotations

import time

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    advance,
    documents,
    draft,
    order,
)
from tests.scenario.conftest import Api


def test_price_change_on_period_start(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.plan("Basic", 19900)
    placed = order(api, catalog.offer(plan), "2027-01-01")
    api.created(
        f"/v1/plans/{plan}/price-changes", {"price": {"amount": 22900}, "effective_date": "2027-02-01"}
    )
    deadline = time.monotonic() + 20
    while (rebuilt := draft(api, placed["subscription_id"])) and rebuilt.total != 22900:
        assert time.monotonic() < deadline, rebuilt
        time.sleep(0.2)
    assert rebuilt == Doc(
        0,
        "invoice",
        "2027-01-18",
        "2027-02-01",
        (Line("Nordavisa", "2027-02-01", "2027-02-28", 22900),),
        22900,
    )

    advance(api, "2027-01-18")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nordavisa", "2027-01-01", "2027-01-31", 19900),),
            19900,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 22900),),
            22900,
        ),
    ]
