"""The flow that places an order: in one transaction, find or create the customer, and create the
subscription, the payment agreement, the first invoice (through the one issuing path), the draft of the
next one, the customer's access (when the offer grants it on order), the order record and their events.

Numbers come from counters read before the transaction and advanced inside it, so a concurrent order
makes the transaction fail and this one is built again from fresh reads: numbers never skip or repeat.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.billing.drafting import Seller, build_draft, build_period_invoice
from chalicelib.billing.drafts import renewal_index_date
from chalicelib.billing.issuing import Collection, InvoiceSeries, ToIssue, invoice_series, issuing_writes
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.catalog.models import AccessGrant as OfferAccess
from chalicelib.catalog.models import Offer
from chalicelib.catalog.plans import MissingPlanError, load_plan_chain, load_products
from chalicelib.catalog.service import CatalogService
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE, VatTable
from chalicelib.clock import Clock
from chalicelib.customers.blocks import OrderBlockService
from chalicelib.customers.fees import FeeService
from chalicelib.customers.identifiers import (
    email_match_keys,
)
from chalicelib.customers.models import Customer, CustomerType, Fee
from chalicelib.customers.service import new_customer_writes
from chalicelib.errors import UnavailableError
from chalicelib.events import Event
from chalicelib.flows.order_checks import check_offer, normalised_customer
from chalicelib.flows.order_documents import (
    OrderCatalog,
    new_agreement,
    new_customer,
    new_order,
    new_subscription,
    new_subscription_writes,
    order_events,
)
from chalicelib.ids import new_id
from chalicelib.ledger.service import LedgerService
from chalicelib.orders.models import Order, OrderRequest
from chalicelib.orders.rules import PROVIDER_METHODS, invalid_field
from chalicelib.payments.records import setup_writes
from chalicelib.store import keys
from chalicelib.store.counters import allocate_number
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    WriteConflictError,
    document_item,
)
from chalicelib.subscriptions.access import AccessService
from chalicelib.subscriptions.models import (
    Subscription,
)
from chalicelib.subscriptions.timeline import BillingPeriod

MAX_ATTEMPTS = 40


@dataclass
class _Writes:
    """An order's transaction, gathered: creates, replaces, updates (the counter claim first), events."""

    creates: list[DocumentItem] = field(default_factory=list)
    replaces: list[tuple[DocumentItem, int]] = field(default_factory=list)
    updates: list[Any] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


class _InvoiceNumberTakenError(WriteConflictError):
    """Only the invoice counter's condition failed."""


@dataclass(frozen=True)
class _Prepared:
    """What an order reads before its attempts: the existing customer (if any) and its pending fees."""

    customer: Customer | None
    fees: list[tuple[Fee, int]]
    new_customer_id: str
    new_customer_number: int


class PlaceOrder:
    """The flow that places an order."""

    def __init__(
        self,
        store: DocumentStore,
        catalog: CatalogService,
        blocks: OrderBlockService,
        fees: FeeService,
        access: AccessService,
        ledger: LedgerService,
        clock: Clock,
        vat_table: VatTable = DEFAULT_VAT_TABLE,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._blocks = blocks
        self._fees = fees
        self._access = access
        self._ledger = ledger
        self._clock = clock
        self._vat = vat_table
        # Threads of one process take turns from reading the invoice counter to committing; across
        # processes (Lambdas) the counter's condition decides and the loser retries.
        self._numbering = threading.Lock()

    # ---- validation ----------------------------------------------------------------------------------

    def _read_catalog(self, request: OrderRequest) -> OrderCatalog:
        offer = self._store.get_document(keys.offer(request.offer_id).pk, "OFFER", Offer)
        if offer is None:
            raise invalid_field("offer_id", f"no offer {request.offer_id}", "unknown")
        wanted = {offer.plan_id} | ({offer.after_campaign.plan_id} if offer.after_campaign else set())
        try:
            plans = load_plan_chain(self._store, wanted)
        except MissingPlanError:
            raise invalid_field(
                "offer_id", "the offer names a plan that no longer exists", "broken_offer"
            ) from None
        plan = plans[offer.plan_id]
        products = load_products(self._store, plans.values())
        entity = self._catalog.legal_entity(plan.legal_entity_id)
        return OrderCatalog(offer, plan, plans, products, entity)

    # ---- placing -------------------------------------------------------------------------------------

    def place(self, request: OrderRequest) -> Order:
        """Place an order; retried internally while concurrent orders take the same numbers."""
        now = self._clock.now()
        catalog = self._read_catalog(request)
        today = catalog.entity.business_date(now)
        start = check_offer(request, catalog.offer, catalog.plans, catalog.products, today)
        details = normalised_customer(request, catalog.entity.country)
        prepared = self._prepare(details, catalog)
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._numbering:
                    return self._attempt(request, catalog, details, prepared, start, today, now)
            except _InvoiceNumberTakenError:
                # A concurrent order took the next invoice number: read the counter again.
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 4)))
            except WriteConflictError:
                # Something else moved: the same new customer created concurrently, fees invoiced, access
                # changed. Read it all again.
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 4)))
                prepared = self._prepare(details, catalog)
        raise UnavailableError("too many concurrent orders; try again")

    def _prepare(self, details: Mapping[str, object], catalog: OrderCatalog) -> _Prepared:
        customer = self._find_customer(details)
        self._blocks.check(
            customer_id=customer.id if customer else None,
            email=str(details["email"]),
            phone=str(details["phone"]) if details.get("phone") else None,
            org_number=str(details["org_number"]) if details.get("org_number") else None,
        )
        fees = (
            [
                (fee, version)
                for fee, version in self._fees.pending_with_versions(customer.id)
                if fee.currency == catalog.plan.currency
            ]
            if customer
            else []
        )
        if customer is not None:
            return _Prepared(customer, fees, "", 0)
        number = allocate_number(keys.customer_number_counter(), catalog.entity.customer_number_start)
        return _Prepared(None, fees, new_id("cus"), number)

    def _find_customer(self, details: Mapping[str, object]) -> Customer | None:
        """The existing customer: an organisation by its number, a person by e-mail whatever its case (at the
        match key, then where a lookup written before matching ignored case keeps the address as typed)."""
        if details["type"] == CustomerType.ORGANIZATION:
            lookup = keys.org_lookup(str(details["country"]), str(details["org_number"]))
            return self._store.follow(lookup, Customer)
        for key in email_match_keys(str(details["email"])):
            found = self._store.follow(keys.email_lookup(key), Customer)
            if found is not None:
                return found
        return None

    def _attempt(
        self,
        request: OrderRequest,
        catalog: OrderCatalog,
        details: Mapping[str, object],
        prepared: _Prepared,
        start: date,
        today: date,
        now: datetime,
    ) -> Order:
        writes = _Writes()
        customer = prepared.customer
        if customer is None:
            customer = new_customer(prepared.new_customer_id, prepared.new_customer_number, details, now)
            writes.creates.extend(new_customer_writes(customer))
        series = invoice_series(catalog.entity)
        agreement = new_agreement(request.payment_method, customer, series, now)
        subscription, first, second = new_subscription(request, catalog, customer, agreement, start, now)
        seller = Seller(catalog.entity, self._vat)
        invoice = self._first_invoice(
            writes, seller, series, subscription, first, catalog, prepared, today, now
        )
        draft = build_draft(seller, subscription, second, catalog.products, [], now)
        subscription = subscription.model_copy(
            update={"next_invoice_id": draft.id, "next_invoice_date": renewal_index_date(draft, today)}
        )
        writes.creates.extend(new_subscription_writes(subscription, catalog.plan.id, agreement, draft))
        access_now = self._grant_access_on_order(writes, catalog, subscription, first)
        order = new_order(request, catalog, subscription, invoice, agreement, prepared.customer is None, now)
        writes.creates.append(document_item("order", keys.order(order.id), order))
        writes.creates.extend(
            setup_writes(
                order.payment_method,
                agreement_id=agreement.id,
                order_id=order.id,
                subscription_id=subscription.id,
                customer_id=customer.id,
                first_invoice_id=invoice.id,
                now=now,
            )
        )
        writes.events[:0] = order_events(order, subscription, catalog.plan.id, now, access_now)
        try:
            self._store.write(writes.creates, writes.replaces, updates=writes.updates, events=writes.events)
        except WriteConflictError as error:
            # The invoice counter's claim is the first update: only it failing is a lost race for a number.
            if error.failed == [len(writes.creates) + len(writes.replaces)]:
                raise _InvoiceNumberTakenError(error.detail, error.failed) from error
            raise
        return order

    def _first_invoice(
        self,
        writes: _Writes,
        seller: Seller,
        series: InvoiceSeries,
        subscription: Subscription,
        first: BillingPeriod,
        catalog: OrderCatalog,
        prepared: _Prepared,
        today: date,
        now: datetime,
    ) -> Invoice:
        """Issue the first period's invoice (with the customer's pending fees) through the one issuing path;
        customer credit may pay it at once."""
        method = subscription.payment_method
        fees = [fee for fee, _ in prepared.fees]
        document = build_period_invoice(
            seller,
            subscription,
            first,
            catalog.products,
            fees,
            now,
            InvoiceStatus.ISSUED,
            today,
            today + timedelta(days=catalog.entity.due_days_for(method)),
        ).model_copy(update={"issued_at": now})
        customer_number = subscription.customer_number
        issued = issuing_writes(
            series, [ToIssue(document, customer_number, Collection.ORDER_SETUP)], self._ledger
        )
        (invoice,) = issued.documents
        writes.creates.extend(issued.creates)
        writes.replaces.extend(issued.replaces)
        writes.updates.extend(issued.updates)
        writes.events.extend(issued.events)
        writes.replaces.extend(self._fees.invoiced_writes(prepared.fees, invoice.id))
        return invoice

    def _grant_access_on_order(
        self, writes: _Writes, catalog: OrderCatalog, subscription: Subscription, first: BillingPeriod
    ) -> bool:
        """Access at once when the offer grants it on order and no provider must confirm a payment first."""
        if catalog.offer.access != OfferAccess.ON_ORDER or subscription.payment_method in PROVIDER_METHODS:
            return False
        grant_creates, grant_replaces = self._access.grant_writes(
            subscription.customer_id, catalog.plan.product_ids, subscription.id, first.period.end
        )
        writes.creates.extend(grant_creates)
        writes.replaces.extend(grant_replaces)
        return True

    def order(self, order_id: str) -> Order:
        """One order, or 404."""
        from chalicelib.errors import NotFoundError

        found = self._store.get_document(keys.order(order_id).pk, "ORDER", Order)
        if found is None:
            raise NotFoundError(f"no order {order_id}")
        return found
