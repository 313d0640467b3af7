"""Usage tiers: per unit and graduated, to the øre."""

from __future__ import annotations

from chalicelib.billing.usage import tier_quantities
from chalicelib.catalog.models import UsagePrice, UsageTier

GRADUATED = UsagePrice(
    product_id="prd_calls",
    metric="api.calls",
    tiers=[
        UsageTier(up_to=1000, unit_price=10),
        UsageTier(up_to=10000, unit_price=5),
        UsageTier(unit_price=2),
    ],
)


def test_graduated_tiers_charge_each_unit_at_its_tiers_price() -> None:
    assert tier_quantities(GRADUATED, 12500) == [
        (1000, 10, 1, 1000),
        (9000, 5, 1001, 10000),
        (2500, 2, 10001, None),
    ]


def test_a_quantity_inside_the_first_tier_uses_only_it() -> None:
    assert tier_quantities(GRADUATED, 1000) == [(1000, 10, 1, 1000)]
    assert tier_quantities(GRADUATED, 1001) == [(1000, 10, 1, 1000), (1, 5, 1001, 10000)]


def test_one_open_tier_is_a_per_unit_price() -> None:
    per_unit = UsagePrice(product_id="p", metric="sms", tiers=[UsageTier(unit_price=49)])
    assert tier_quantities(per_unit, 7) == [(7, 49, 1, None)]
    assert tier_quantities(per_unit, 0) == []
