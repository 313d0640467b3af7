"""A Swedish seller in SEK: news at 6 % VAT, a paid January and an unpaid February, stopped on 18 January.

Nyhetsbolaget Syd AB (Sweden, Europe/Stockholm) sells «Nyheter» at 99.00 SEK a month including 6 % VAT
(VAT 9900 × 6/106 = 560.38 → 5.60). Kari orders on 1 January 2027 and pays; February is invoiced on 18
January; she stops "now" that day (ends_on 19 January; 13 of January's 31 days unused).

* January, paid: credit 9900 × 13/31 = 4151.61 → 41.52 SEK, VAT 4152 × 6/106 = 235.02 → 2.35
* February, starting after the end: credited in full, 99.00 SEK, VAT 5.60

| No. | Document    | Period          | Issued | Due    | Line                          | Amount     | VAT   |
|-----|-------------|-----------------|--------|--------|-------------------------------|------------|-------|
| 1   | invoice     | 1 Jan – 31 Jan  | 1 Jan  | 15 Jan | Nyheter                       | 99.00 SEK  | 5.60  |
| 2   | invoice     | 1 Feb – 28 Feb  | 18 Jan | 1 Feb  | Nyheter                       | 99.00 SEK  | 5.60  |
| 3   | credit note | 19 Jan – 31 Jan | 18 Jan | 18 Jan | Nyheter (13/31 days credited) | −41.52 SEK | −2.35 |
| 4   | credit note | 1 Feb – 28 Feb  | 18 Jan | 18 Jan | Nyheter (28/28 days credited) | −99.00 SEK | −5.60 |

Balance: invoiced 99 + 99 − 41.52 − 99 = 57.48, paid 99.00: −41.52 SEK (credit).
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

SWEDISH_SELLER = {
    "name": "Nyhetsbolaget Syd AB",
    "organization_number": "5560360793",
    "address": {"line1": "Storgatan 1", "postal_code": "21122", "city": "Malmö", "country": "SE"},
    "bank_account": "50001234567",
    "country": "SE",
    "time_zone": "Europe/Stockholm",
}


def test_sek_swedish_seller_stop(stack: LocalStack, api: Api) -> None:
    catalog = Catalog(api, seller=SWEDISH_SELLER)
    placed = order(
        api, catalog.offer(catalog.plan("Nyheter", 9900, product="Nyheter", currency="SEK")), "2027-01-01"
    )
    pay(stack, api, placed["invoice_id"])

    advance(api, "2027-01-18")
    act(api, placed["subscription_id"], "stop", {"effective": "now"})

    assert documents(api, placed["customer_id"]) == [
        Doc(
            1,
            "invoice",
            "2027-01-01",
            "2027-01-15",
            (Line("Nyheter", "2027-01-01", "2027-01-31", 9900, 560),),
            9900,
        ),
        Doc(
            2,
            "invoice",
            "2027-01-18",
            "2027-02-01",
            (Line("Nyheter", "2027-02-01", "2027-02-28", 9900, 560),),
            9900,
        ),
        Doc(
            3,
            "credit note",
            "2027-01-18",
            "2027-01-18",
            (Line("Nyheter (13/31 days credited)", "2027-01-19", "2027-01-31", -4152, -235),),
            -4152,
        ),
        Doc(
            4,
            "credit note",
            "2027-01-18",
            "2027-01-18",
            (Line("Nyheter (28/28 days credited)", "2027-02-01", "2027-02-28", -9900, -560),),
            -9900,
        ),
    ]
    assert balance(api, placed["customer_id"]) == -4152
