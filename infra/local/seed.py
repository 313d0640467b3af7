"""Demo catalog data for `make run`: a Norwegian publisher with a news product, a crossword add-on, a
monthly plan, a bundle, and offers with and without a campaign. Loaded only into an empty platform.

No dunning plan is written: the seller dunns with Norway's standard plan until one is stored
(``effective_dunning_plan`` in chalicelib/dunning/plan_store.py)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.catalog.service import CatalogService


@dataclass(frozen=True)
class SeededCatalog:
    """The ids of what was created."""

    legal_entity_id: str
    offer_ids: dict[str, str]


def seed_demo_catalog(catalog: CatalogService) -> SeededCatalog | None:
    """Create the demo catalog unless a legal entity exists already; returns what was created."""
    if catalog.legal_entities(1, None).items:
        return None
    seller = catalog.create_legal_entity(
        {
            "name": "Avishuset Nord AS",
            "organization_number": "974760673",
            "address": {"line1": "Storgata 1", "postal_code": "9008", "city": "Tromsø"},
            "bank_account": "86011117947",
            "email": "kundeservice@avishuset.example.no",
        }
    )
    news = catalog.create_product(
        {
            "name": "Nordavisa digital",
            "kind": "digital",
            "vat_rate_code": "news",
            "translations": {"en": {"name": "Nordavisa digital"}, "sv": {"name": "Nordavisa digitalt"}},
        }
    )
    crossword = catalog.create_product({"name": "Kryssord+", "kind": "digital", "vat_rate_code": "standard"})
    monthly = catalog.create_plan(
        {
            "name": "Nordavisa månedlig",
            "product_ids": [news.id],
            "currency": "NOK",
            "price": 29900,
            "period": {"unit": "month", "count": 1},
        }
    )
    bundle = catalog.create_plan(
        {
            "name": "Nordavisa + Kryssord",
            "product_ids": [news.id, crossword.id],
            "currency": "NOK",
            "price": 34900,
            "period": {"unit": "month", "count": 1},
            "components": [
                {"product_id": news.id, "price": 29900},
                {"product_id": crossword.id, "price": 5000},
            ],
        }
    )
    offers = {
        "monthly": catalog.create_offer(
            {
                "name": "Nordavisa månedlig",
                "plan_id": monthly.id,
                "payment_methods": ["invoice", "ehf", "card", "vipps", "avtalegiro"],
                "access": "on_order",
            }
        ),
        "campaign": catalog.create_offer(
            {
                "name": "3 måneder for 99,-",
                "plan_id": monthly.id,
                "campaign": {"price": 3300, "periods": 3},
                "payment_methods": ["invoice", "vipps", "card"],
                "channel": "web",
            }
        ),
        "bundle": catalog.create_offer(
            {"name": "Avis + kryssord", "plan_id": bundle.id, "payment_methods": ["invoice", "card"]}
        ),
    }
    return SeededCatalog(seller.id, {name: offer.id for name, offer in offers.items()})
