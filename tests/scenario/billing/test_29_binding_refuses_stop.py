"""A twelve-month binding refuses a stop, now or at period end; renewals go on.

199.00 NOK a month, `binding_periods: 12`, `early_stop: refuse`, paper invoice, 0 % VAT. Kari orders on
1 January 2027 (bound until 1 January 2028). A stop on 10 January is refused (409) both ways.

| No. | Document | Period         | Issued     | Due        | Line      | Amount     |
|-----|----------|----------------|------------|------------|-----------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Nordavisa | 199.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Nordavisa | 199.00 NOK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    advance,
    documents,
    order,
    subscription,
)
from tests.scenario.conftest import Api


def test_binding_refuses_stop(api: Api) -> None:
    catalog = Catalog(api)
    placed = order(api, catalog.offer(catalog.plan("Bundet", 19900, binding_periods=12)), "2027-01-01")
    sub = placed["subscription_id"]
    assert subscription(api, sub)["binding_end"] == "2028-01-01"

    advance(api, "2027-01-10")
    for effective in ("now", "period_end"):
        refused = api.post(f"/v1/subscriptions/{sub}/stop", {"effective": effective})
        assert refused.status_code == 409, refused.text
        assert "bound until 2028-01-01" in refused.json()["detail"]
    advance(api, "2027-01-18")

    assert subscription(api, sub)["status"] == "active"
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
            (Line("Nordavisa", "2027-02-01", "2027-02-28", 19900),),
            19900,
        ),
    ]
