"""A Danish seller in DKK: two copies at a net price, 25 % VAT added.

Dagbladet Nord ApS (Denmark) sells «Krydsord» (standard 25 %) at 60.00 DKK a month excluding VAT
(`prices_include_vat: false`). Kari orders two copies on 1 January 2027, paper invoice.
Net 2 × 60.00 = 120.00, VAT 30.00, total 150.00 DKK.

| No. | Document | Period         | Issued     | Due        | Line         | Net    | VAT   | Amount     |
|-----|----------|----------------|------------|------------|--------------|--------|-------|------------|
| 1   | invoice  | 1 Jan – 31 Jan | 2027-01-01 | 2027-01-15 | Krydsord × 2 | 120.00 | 30.00 | 150.00 DKK |
| 2   | invoice  | 1 Feb – 28 Feb | 2027-01-18 | 2027-02-01 | Krydsord × 2 | 120.00 | 30.00 | 150.00 DKK |
"""

from __future__ import annotations

from tests.scenario.billing.conftest import (
    Catalog,
    Doc,
    Line,
    advance,
    documents,
    order,
)
from tests.scenario.conftest import Api

DANISH_SELLER = {
    "name": "Dagbladet Nord ApS",
    "organization_number": "12345674",
    "address": {"line1": "Søndergade 1", "postal_code": "8000", "city": "Aarhus", "country": "DK"},
    "bank_account": "DK5000400440116243",
    "country": "DK",
    "time_zone": "Europe/Copenhagen",
}


def test_dkk_danish_seller_quantity(api: Api) -> None:
    catalog = Catalog(api, seller=DANISH_SELLER)
    plan = catalog.plan(
        "Krydsord", 6000, product="Krydsord", vat="standard", currency="DKK", prices_include_vat=False
    )
    placed = order(api, catalog.offer(plan), "2027-01-01", quantity=2)

    advance(api, "2027-01-18")

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Krydsord", "2027-01-01", "2027-01-31", 15000, 3000, quantity=2),),
            15000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Krydsord", "2027-02-01", "2027-02-28", 15000, 3000, quantity=2),),
            15000,
        ),
    ]
