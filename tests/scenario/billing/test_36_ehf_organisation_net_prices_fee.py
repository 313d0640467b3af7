"""An organisation on EHF with net prices (VAT added) and an invoicing fee.

«Abo Pro» is a service at standard 25 % VAT, 1 000.00 NOK a month excluding VAT (`prices_include_vat:
false`). Nordlys Eiendom AS (org. no. 923 609 016) orders on 1 January 2027 paying by EHF (14 days'
lead and due). A fee of 250.00 NOK net (VAT 62.50) goes on the next invoice.

| No. | Document | Period         | Issued | Due    | Line         | Net      | VAT    | Amount       |
|-----|----------|----------------|--------|--------|--------------|----------|--------|--------------|
| 1   | invoice  | 1 Jan – 31 Jan | 1 Jan  | 15 Jan | Abo Pro      | 1 000.00 | 250.00 | 1 250.00 NOK |
| 2   | invoice  | 1 Feb – 28 Feb | 18 Jan | 1 Feb  | Abo Pro      | 1 000.00 | 250.00 | 1 250.00 NOK |
|     |          |                |        |        | Fakturagebyr | 250.00   | 62.50  | 312.50 NOK   |
|     |          |                |        |        | total        | 1 250.00 | 312.50 | 1 562.50 NOK |
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


def test_ehf_organisation_net_prices_fee(api: Api) -> None:
    catalog = Catalog(api)
    plan = catalog.plan("Pro", 100000, product="Abo Pro", vat="standard", prices_include_vat=False)
    placed = order(
        api,
        catalog.offer(plan),
        "2027-01-01",
        name="Nordlys Eiendom AS",
        email="faktura@nordlys.example.no",
        method="ehf",
        organisation="923609016",
    )
    api.created(
        f"/v1/customers/{placed['customer_id']}/fees", {"amount": {"amount": 25000}, "text": "Fakturagebyr"}
    )

    advance(api, "2027-01-18")

    found = documents(api, placed["customer_id"])
    assert found == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Abo Pro", "2027-01-01", "2027-01-31", 125000, 25000),),
            125000,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (
                Line("Abo Pro", "2027-02-01", "2027-02-28", 125000, 25000),
                Line("Fakturagebyr", None, None, 31250, 6250),
            ),
            156250,
        ),
    ]
