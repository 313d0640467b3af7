"""The demo catalog `make run` loads: created once, sellable at once."""

from __future__ import annotations

from chalicelib.container import Services
from chalicelib.customers.models import CustomerType
from chalicelib.orders.models import CustomerDetails, OrderRequest
from chalicelib.values import PaymentMethod
from infra.local.seed import seed_demo_catalog


def test_seeds_an_empty_platform_once_and_its_offers_sell(services: Services) -> None:
    seeded = seed_demo_catalog(services.catalog)
    assert seeded is not None
    assert seed_demo_catalog(services.catalog) is None  # a restart does not seed again
    order = services.orders.place(
        OrderRequest(
            offer_id=seeded.offer_ids["campaign"],
            payment_method=PaymentMethod.INVOICE,
            customer=CustomerDetails(type=CustomerType.PERSON, name="Demo Kunde", email="demo@example.no"),
        )
    )
    assert services.subscriptions.invoice(order.invoice_id).totals.gross == 3300
