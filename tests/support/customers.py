"""Customers, invoices and subscriptions written straight to the store the way orders write them, and a
Chalice client that serves the customer, order block and access routes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

from chalice.test import Client

from chalicelib.billing.models import DatePeriod, Invoice, InvoiceStatus, Totals
from chalicelib.catalog.models import LegalEntity
from chalicelib.customers.models import Customer, CustomerType
from chalicelib.customers.service import new_customer_writes
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore, document_item, lookup_item
from chalicelib.subscriptions.models import Phase, Subscription, SubscriptionStatus
from chalicelib.values import Address, PaymentMethod

CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def make_customer(
    store: DocumentStore,
    *,
    ident: str,
    number: int,
    name: str,
    email: str,
    phone: str | None = None,
    org_number: str | None = None,
    country: str = "NO",
    address: Address | None = None,
) -> Customer:
    """A customer (an organisation when ``org_number`` is given) with its lookups and name entry, written
    by :func:`new_customer_writes` as the order transaction writes it. Values must be normalised."""
    customer = Customer(
        id=ident,
        number=number,
        type=CustomerType.ORGANIZATION if org_number else CustomerType.PERSON,
        name=name,
        email=email,
        phone=phone,
        address=address,
        org_number=org_number,
        country=country,
        created_at=CREATED,
        updated_at=CREATED,
    )
    store.write(new_customer_writes(customer), [])
    return customer


def make_legal_entity(store: DocumentStore, ident: str = "ent_main") -> LegalEntity:
    """A seller, listed under ENTITIES as the catalog lists it."""
    entity = LegalEntity(
        id=ident,
        name="Avishuset AS",
        organization_number="974760673",
        address=Address(line1="Akersgata 1", postal_code="0158", city="Oslo"),
        bank_account="86011117947",
        created_at=CREATED,
    )
    store.write([document_item("legal_entity", keys.legal_entity(ident, CREATED), entity)], [])
    return entity


def make_invoice(
    store: DocumentStore, customer: Customer, entity: LegalEntity, *, ident: str, number: int, kid: str
) -> Invoice:
    """An issued invoice of ``customer``: listed under it, findable by number (gsi2) and by KID."""
    issued = date(2027, 1, 1)
    invoice = Invoice(
        id=ident,
        legal_entity_id=entity.id,
        customer_id=customer.id,
        status=InvoiceStatus.ISSUED,
        number=number,
        kid=kid,
        currency=Currency.NOK,
        payment_method=PaymentMethod.INVOICE,
        invoice_date=issued,
        due_date=issued + timedelta(days=14),
        lines=[],
        totals=Totals(net=0, vat=0, gross=0),
        vat_summary=[],
        open_amount=0,
        created_at=CREATED,
    )
    stored = keys.invoice(ident, customer.id, issued, keys.invoice_number_key(entity.id, number))
    store.write(
        [
            document_item("invoice", stored, invoice, status=invoice.status),
            lookup_item(keys.kid_lookup(kid), keys.invoice(ident)),
        ],
        [],
    )
    return invoice


def make_subscription(
    store: DocumentStore, customer: Customer, *, ident: str, plan_ids: list[str]
) -> Subscription:
    """An active subscription of ``customer`` on ``plan_ids`` (one monthly phase each, from 2027-01-01)."""
    phases = [
        Phase(
            plan_id=plan_id, start=date(2027, 1 + index, 1), periods=1 if index < len(plan_ids) - 1 else None
        )
        for index, plan_id in enumerate(plan_ids)
    ]
    subscription = Subscription(
        id=ident,
        customer_id=customer.id,
        customer_number=customer.number,
        legal_entity_id="ent_main",
        offer_id="off_1",
        order_id="ord_1",
        product_ids=["prd_1"],
        status=SubscriptionStatus.ACTIVE,
        payment_method=PaymentMethod.INVOICE,
        agreement_id="agr_1",
        currency="NOK",
        start_date=date(2027, 1, 1),
        phases=phases,
        invoiced_period=DatePeriod(start=date(2027, 1, 1), end=date(2027, 2, 1)),
        created_at=CREATED,
    )
    key = keys.subscription(ident, customer.id, CREATED)
    store.write([document_item("subscription", key, subscription, status=subscription.status)], [])
    return subscription


@contextmanager
def customer_client() -> Iterator[Client]:
    """Chalice's in-process client for app.py."""
    from app import app

    with Client(app) as client:
        yield client
