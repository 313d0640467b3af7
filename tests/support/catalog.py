"""Building a catalog through the API, the way a publisher would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from chalice.test import Client

from tests.support.idempotency import NO_KEY, with_key, without_idempotency_keys

SELLER = {
    "name": "Avishuset Nord AS",
    "organization_number": "974760673",
    "address": {"line1": "Storgata 1", "postal_code": "9008", "city": "Tromsø"},
    "bank_account": "8601 11 17947",
}


@dataclass
class Http:
    """The in-process client with admin headers, returning (status, json)."""

    client: Client
    headers: dict[str, str]

    def post(self, path: str, body: Any, key: str | None = None) -> tuple[int, Any]:
        """POST with an Idempotency-Key: ``key`` (the same key replays), a fresh one when None, none
        when ``NO_KEY``."""
        if key == NO_KEY:
            with without_idempotency_keys():
                response = self.client.http.post(path, headers=dict(self.headers), body=json.dumps(body))
        else:
            headers = with_key(self.headers, key)
            response = self.client.http.post(path, headers=headers, body=json.dumps(body))
        return response.status_code, response.json_body

    def patch(self, path: str, body: Any) -> tuple[int, Any]:
        response = self.client.http.patch(path, headers=self.headers, body=json.dumps(body))
        return response.status_code, response.json_body

    def get(self, path: str) -> tuple[int, Any]:
        response = self.client.http.get(path, headers=self.headers)
        return response.status_code, response.json_body

    def created(self, path: str, body: Any) -> dict[str, Any]:
        status, payload = self.post(path, body)
        assert status == 201, (path, status, payload)
        return dict(payload)


@dataclass
class Catalog:
    """A seller with a news product (0 % VAT), a digital service (25 %), their plans and offers."""

    seller: dict[str, Any]
    news: dict[str, Any]
    crossword: dict[str, Any]
    monthly: dict[str, Any]
    bundle: dict[str, Any]
    invoice_offer: dict[str, Any]
    campaign_offer: dict[str, Any]
    bundle_offer: dict[str, Any]


def build_catalog(http: Http) -> Catalog:
    """Create the standard test catalog."""
    seller = http.created("/v1/legal-entities", SELLER)
    news = http.created(
        "/v1/products",
        {
            "name": "Nordavisa digital",
            "kind": "digital",
            "vat_rate_code": "news",
            "translations": {"en": {"name": "Nordavisa digital"}, "sv": {"name": "Nordavisa digitalt"}},
        },
    )
    crossword = http.created(
        "/v1/products", {"name": "Kryssord+", "kind": "digital", "vat_rate_code": "standard"}
    )
    monthly = http.created(
        "/v1/plans",
        {
            "name": "Nordavisa månedlig",
            "product_ids": [news["id"]],
            "currency": "NOK",
            "price": {"amount": 29900},
            "period": {"unit": "month", "count": 1},
        },
    )
    bundle = http.created(
        "/v1/plans",
        {
            "name": "Nordavisa + Kryssord",
            "product_ids": [news["id"], crossword["id"]],
            "currency": "NOK",
            "price": {"amount": 34900},
            "period": {"unit": "month", "count": 1},
            "components": [
                {"product_id": news["id"], "price": {"amount": 29900}},
                {"product_id": crossword["id"], "price": {"amount": 5000}},
            ],
        },
    )
    invoice_offer = http.created(
        "/v1/offers",
        {
            "name": "Månedlig med faktura",
            "plan_id": monthly["id"],
            "payment_methods": ["invoice", "ehf", "card"],
            "access": "on_order",
        },
    )
    campaign_offer = http.created(
        "/v1/offers",
        {
            "name": "3 måneder for 99,-",
            "plan_id": monthly["id"],
            "campaign": {"price": {"amount": 3300}, "periods": 3},
            "payment_methods": ["invoice", "vipps", "avtalegiro"],
            "channel": "web",
        },
    )
    bundle_offer = http.created(
        "/v1/offers",
        {"name": "Pakke", "plan_id": bundle["id"], "payment_methods": ["invoice"], "access": "on_order"},
    )
    return Catalog(seller, news, crossword, monthly, bundle, invoice_offer, campaign_offer, bundle_offer)


def person(email: str = "kari.nordmann@example.no", **extra: Any) -> dict[str, Any]:
    """A person ordering."""
    return {"type": "person", "name": "Kari Nordmann", "email": email, "phone": "412 34 567", **extra}


def organisation(org_number: str = "923609016", **extra: Any) -> dict[str, Any]:
    """An organisation ordering (Equinor's organisation number: a valid one)."""
    return {
        "type": "organization",
        "name": "Nordlys Eiendom AS",
        "email": "faktura@nordlys.example.no",
        "org_number": org_number,
        **extra,
    }


HOME_CURRENCY = {"NO": "NOK", "SE": "SEK", "DK": "DKK"}


def reminder_only_plan(seller_id: str, country: str = "NO") -> dict[str, Any]:
    """A seller's own dunning plan that only reminds, without a fee, and never hands over.

    Every seller follows its country's standard plan (reminder fees as documents in the invoice series,
    then collection) unless it stores its own. The billing tests and scenarios are about periods, amounts
    and numbers, and their customers often leave invoices unpaid for months: they store this plan, so
    that what they assert is billing alone. Dunning has its own tests and scenarios."""
    return {
        "legal_entity_id": seller_id,
        "name": "Reminder only",
        "country": country,
        "currency": HOME_CURRENCY[country],
        "steps": [{"key": "reminder", "kind": "reminder", "days": 14, "deadline_days": 14}],
        "default": True,
    }
