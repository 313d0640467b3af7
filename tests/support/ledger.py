"""Helpers for the ledger's tests: an API client that serves the ledger routes, orders that create real
invoices, and a dump of the main table to compare whole states."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest
from chalice.app import Chalice
from chalice.test import Client

from chalicelib.billing.kid import make_invoice_kid
from chalicelib.billing.models import (
    DatePeriod,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Totals,
    VatSummaryRow,
)
from chalicelib.catalog.models import LegalEntity
from chalicelib.container import Services
from chalicelib.customers.models import Customer, CustomerType
from chalicelib.money import Currency, Money, VatRate, vat_from_gross
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, document_item, lookup_item
from chalicelib.values import Address, PaymentMethod
from tests.support.aws import REGION
from tests.support.catalog import Catalog, Http, build_catalog, person


def ledger_app() -> Chalice:
    """app.py, which serves the ledger routes."""
    from app import app

    return app


@pytest.fixture
def ledger_api(services: Services) -> Iterator[Client]:
    """A client for the ledger routes."""
    with Client(ledger_app()) as client:
        yield client


@dataclass
class Shop:
    """The standard catalog and a way to place orders paid by invoice."""

    http: Http
    catalog: Catalog
    services: Services

    def order(self, email: str, offer: str = "invoice_offer", **customer: Any) -> Invoice:
        """Place an order paid by invoice; returns its first invoice as stored."""
        offer_id = getattr(self.catalog, offer)["id"]
        body = {"offer_id": offer_id, "payment_method": "invoice", "customer": person(email, **customer)}
        status, order = self.http.post("/v1/orders", body)
        assert status == 201, order
        return self.invoice(order["invoice_id"])

    def invoice(self, invoice_id: str) -> Invoice:
        found = self.services.documents.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
        assert found is not None
        return found


def dump_table(services: Services, *, skip: tuple[str, ...] = ("INBOUND#",)) -> dict[tuple[str, str], Any]:
    """Every item of the main table (test-only scan), keyed by pk and sk, documents decoded."""
    client = boto3.session.Session().client("dynamodb", region_name=REGION)
    items: dict[tuple[str, str], Any] = {}
    for page in client.get_paginator("scan").paginate(TableName=services.settings.main_table):
        for raw in page["Items"]:
            pk, sk = raw["pk"]["S"], raw["sk"]["S"]
            if pk.startswith(skip):
                continue
            value: dict[str, Any] = {name: next(iter(v.values())) for name, v in raw.items()}
            if "doc" in value:
                value["doc"] = json.loads(value["doc"])
            items[(pk, sk)] = value
    return items


def shop(services: Services, api: Client, admin: dict[str, str]) -> Shop:
    """A catalog built through the API."""
    http = Http(api, admin)
    return Shop(http, build_catalog(http), services)


# ---- seeding invoices straight into the store (deterministic ids, for whole-table comparisons) -------

SEED_AT = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


def seed_seller(services: Services, ident: str = "ent_seed") -> LegalEntity:
    """A seller stored directly."""
    entity = LegalEntity(
        id=ident,
        name="Avishuset Nord AS",
        organization_number="974760673",
        address=Address(line1="Storgata 1", postal_code="9008", city="Tromsø"),
        bank_account="86011117947",
        created_at=SEED_AT,
    )
    services.documents.put_new(document_item("legal_entity", keys.legal_entity(ident, SEED_AT), entity))
    return entity


def seed_customer(services: Services, ident: str, number: int, language: str = "nb") -> Customer:
    """A customer stored directly."""
    customer = Customer(
        id=ident,
        number=number,
        type=CustomerType.PERSON,
        name=f"Kunde {number}",
        email=f"kunde{number}@example.no",
        address=Address(line1="Fjellveien 2", postal_code="0150", city="Oslo"),
        language=language,
        created_at=SEED_AT,
        updated_at=SEED_AT,
    )
    services.documents.put_new(document_item("customer", keys.customer(ident), customer))
    return customer


def make_invoice(
    customer: Customer,
    number: int,
    gross: int,
    *,
    entity_id: str = "ent_seed",
    vat_rate: int = 2500,
    language: str | None = None,
) -> Invoice:
    """An issued invoice with one line (not stored)."""
    split = vat_from_gross(Money(gross, Currency.NOK), VatRate(vat_rate))
    kid = make_invoice_kid(0, customer.number, number)  # prefix 0: never a real seller's, never collides
    invoice = Invoice(
        id=f"inv_seed_{number}",
        legal_entity_id=entity_id,
        customer_id=customer.id,
        status=InvoiceStatus.ISSUED,
        number=number,
        kid=kid,
        currency=Currency.NOK,
        language=language or customer.language,
        payment_method=PaymentMethod.INVOICE,
        invoice_date=date(2027, 1, 1),
        due_date=date(2027, 1, 15),
        period=DatePeriod(start=date(2027, 1, 1), end=date(2027, 2, 1)),
        lines=[
            InvoiceLine(
                kind=LineKind.SUBSCRIPTION,
                text="Nordavisa digital",
                period=DatePeriod(start=date(2027, 1, 1), end=date(2027, 2, 1)),
                quantity=1,
                unit_price=split.net.amount,
                vat_code="standard",
                vat_rate=vat_rate,
                net=split.net.amount,
                vat=split.vat.amount,
                gross=gross,
            )
        ],
        totals=Totals(net=split.net.amount, vat=split.vat.amount, gross=gross),
        vat_summary=[VatSummaryRow(vat_rate=vat_rate, net=split.net.amount, vat=split.vat.amount)],
        open_amount=gross,
        issued_at=SEED_AT,
        created_at=SEED_AT,
    )
    return invoice


def invoice_items(invoice: Invoice) -> list[DocumentItem]:
    """The invoice's item and its KID lookup, as billing stores them."""
    number_key = keys.invoice_number_key(invoice.legal_entity_id, invoice.number or 0)
    item = document_item(
        "invoice",
        keys.invoice(invoice.id, invoice.customer_id, invoice.invoice_date, number_key),
        invoice,
        status=invoice.status,
    )
    return [item, lookup_item(keys.kid_lookup(invoice.kid or ""), keys.invoice(invoice.id))]


def seed_invoice(services: Services, customer: Customer, number: int, gross: int, **options: Any) -> Invoice:
    """An issued invoice with one line, stored with its KID lookup (not on the ledger yet)."""
    invoice = make_invoice(customer, number, gross, **options)
    services.documents.write(invoice_items(invoice), [])
    return invoice
