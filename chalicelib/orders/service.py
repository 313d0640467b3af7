"""Placing an order: in one transaction, find or create the customer, and create the subscription, the
payment agreement, the first invoice (numbered gaplessly, with a KID), the draft of the next one, the
customer's access (when the offer grants it on order) and the order record.

Numbers come from counters read before the transaction and advanced inside it, so a concurrent order
makes the transaction fail and this one is built again from fresh reads: numbers never skip or repeat.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chalicelib.avtalegiro.mandates import agreement_kid_writes
from chalicelib.billing.drafting import Seller, build_draft, build_period_invoice
from chalicelib.billing.drafts import document_item_for, renewal_index_date
from chalicelib.billing.issuing import Collection, InvoiceSeries, ToIssue, invoice_series, issuing_writes
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.catalog.models import AccessGrant as OfferAccess
from chalicelib.catalog.models import Address, LegalEntity, Offer, PaymentMethod, Plan, Product
from chalicelib.catalog.plans import MissingPlanError, load_plan_chain, load_products
from chalicelib.catalog.service import CatalogService
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE, VatTable
from chalicelib.clock import Clock
from chalicelib.customers.blocks import OrderBlockService
from chalicelib.customers.fees import FeeService
from chalicelib.customers.identifiers import (
    InvalidIdentifierError,
    email_match_keys,
    normalise_email,
    normalise_organisation_number,
    normalise_phone_number,
)
from chalicelib.customers.models import Customer, CustomerType, Fee
from chalicelib.customers.service import new_customer_writes
from chalicelib.errors import FieldError, UnavailableError, ValidationFailedError
from chalicelib.events import Event, EventType, new_event
from chalicelib.ids import new_id
from chalicelib.ledger.service import LedgerService
from chalicelib.orders.models import Order, OrderPayment, OrderRequest, PaymentStatus
from chalicelib.payments.records import setup_writes
from chalicelib.store import keys
from chalicelib.store.counters import allocate_number
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    WriteConflictError,
    document_item,
    lookup_item,
)
from chalicelib.subscriptions.access import AccessService
from chalicelib.subscriptions.models import (
    AgreementStatus,
    PaymentAgreement,
    Subscription,
    SubscriptionStatus,
)
from chalicelib.subscriptions.timeline import BillingPeriod, billing_periods, binding_end, phases_for_order
from chalicelib.subscriptions.writes import subscription_item

MAX_ATTEMPTS = 40
MAX_START_AHEAD_DAYS = 366
INVOICE_METHODS = {PaymentMethod.INVOICE, PaymentMethod.EHF, PaymentMethod.EFAKTURA}
PROVIDER_METHODS = {PaymentMethod.CARD, PaymentMethod.VIPPS, PaymentMethod.AUTOGIRO}


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailedError:
    return ValidationFailedError(message, [FieldError(field, message, code)])


@dataclass(frozen=True)
class OrderCatalog:
    """Everything of the catalog one order needs, read before the transaction."""

    offer: Offer
    plan: Plan
    plans: Mapping[str, Plan]
    products: Mapping[str, Product]
    entity: LegalEntity


def _subscription_writes(
    subscription: Subscription, plan_id: str, agreement: PaymentAgreement, draft: Invoice
) -> list[DocumentItem]:
    """The items a new subscription brings: itself, its plan membership, its agreement and the draft of
    the next invoice (the first invoice's items come from :func:`issuing_writes`)."""
    member = keys.plan_member(plan_id, subscription.id)
    return [
        subscription_item(subscription),
        lookup_item(member.pk, keys.subscription(subscription.id), kind="plan_member", sk=member.sk),
        document_item("agreement", keys.agreement(agreement.id), agreement, status=agreement.status),
        *agreement_kid_writes(agreement),
        document_item_for(draft),
    ]


def _agreement(
    method: PaymentMethod, customer: Customer, series: InvoiceSeries, now: datetime
) -> PaymentAgreement:
    """The payment agreement an order starts: invoices are active at once; AvtaleGiro waits for the
    payer's mandate (registered with the customer's KID with this seller, invoice part 0); card and Vipps
    wait for their provider."""
    if method in INVOICE_METHODS:
        status = AgreementStatus.ACTIVE
    elif method == PaymentMethod.AVTALEGIRO:
        status = AgreementStatus.PENDING_MANDATE
    else:
        status = AgreementStatus.PENDING
    return PaymentAgreement(
        id=new_id("agr"),
        customer_id=customer.id,
        method=method,
        status=status,
        kid=series.kid(customer.number, 0) if method == PaymentMethod.AVTALEGIRO else None,
        created_at=now,
    )


def _payment(method: PaymentMethod, agreement: PaymentAgreement, invoice_kid: str) -> OrderPayment:
    """Where the order's first payment stands, and the KID the customer pays (or registers) with."""
    if method == PaymentMethod.AVTALEGIRO:
        return OrderPayment(status=PaymentStatus.AWAITING_MANDATE, kid=agreement.kid)
    if method in PROVIDER_METHODS:
        return OrderPayment(status=PaymentStatus.AWAITING_PROVIDER, kid=invoice_kid)
    return OrderPayment(status=PaymentStatus.AWAITING_PAYMENT, kid=invoice_kid)


def _new_customer(prepared: _Prepared, details: Mapping[str, object], now: datetime) -> Customer:
    """The customer an order creates, with the id and number reserved for it."""
    address = details.get("address")
    return Customer(
        id=prepared.new_customer_id,
        number=prepared.new_customer_number,
        type=CustomerType(str(details["type"])),
        name=str(details["name"]),
        email=str(details["email"]),
        phone=str(details["phone"]) if details.get("phone") else None,
        address=address if isinstance(address, Address) else None,
        org_number=str(details["org_number"]) if details.get("org_number") else None,
        country=str(details["country"]),
        language=str(details["language"]),
        created_at=now,
        updated_at=now,
    )


class _InvoiceNumberTakenError(WriteConflictError):
    """Only the invoice counter's condition failed."""


@dataclass(frozen=True)
class _Prepared:
    """What an order reads before its attempts: the existing customer (if any) and its pending fees."""

    customer: Customer | None
    fees: list[tuple[Fee, int]]
    new_customer_id: str
    new_customer_number: int


class OrderService:
    """Places orders."""

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
            raise _invalid("offer_id", f"no offer {request.offer_id}", "unknown")
        wanted = {offer.plan_id} | ({offer.after_campaign.plan_id} if offer.after_campaign else set())
        try:
            plans = load_plan_chain(self._store, wanted)
        except MissingPlanError:
            raise _invalid(
                "offer_id", "the offer names a plan that no longer exists", "broken_offer"
            ) from None
        plan = plans[offer.plan_id]
        products = load_products(self._store, plans.values())
        entity = self._catalog.legal_entity(plan.legal_entity_id)
        return OrderCatalog(offer, plan, plans, products, entity)

    def _normalised_customer(self, request: OrderRequest, country: str) -> dict[str, object]:
        details = request.customer
        errors: list[FieldError] = []
        values: dict[str, object] = {
            "type": details.type,
            "name": details.name.strip(),
            "language": details.language,
        }
        customer_country = details.address.country if details.address else country
        values["country"] = customer_country
        values["address"] = details.address
        try:
            values["email"] = normalise_email(details.email)
        except InvalidIdentifierError as error:
            errors.append(error.to_field_error("customer.email"))
        if details.phone:
            try:
                values["phone"] = normalise_phone_number(details.phone, customer_country)
            except InvalidIdentifierError as error:
                errors.append(error.to_field_error("customer.phone"))
        if details.type == CustomerType.ORGANIZATION:
            if not details.org_number:
                errors.append(
                    FieldError("customer.org_number", "an organisation needs its number", "missing")
                )
            else:
                try:
                    values["org_number"] = normalise_organisation_number(details.org_number, customer_country)
                except InvalidIdentifierError as error:
                    errors.append(error.to_field_error("customer.org_number"))
        elif details.org_number:
            errors.append(FieldError("customer.org_number", "only organisations have one", "not_allowed"))
        if errors:
            raise ValidationFailedError("the customer's details are not valid", errors)
        return values

    def _check_offer(self, request: OrderRequest, catalog: OrderCatalog, today: date) -> date:
        offer = catalog.offer
        if not offer.is_open_on(today):
            raise _invalid("offer_id", "the offer is not open for orders today", "offer_closed")
        if request.payment_method not in offer.payment_methods:
            allowed = ", ".join(method.value for method in offer.payment_methods)
            raise _invalid("payment_method", f"this offer takes {allowed}", "method_not_allowed")
        start = request.start_date or today
        if start < today:
            raise _invalid("start_date", "a subscription cannot start in the past", "in_past")
        if start > today + timedelta(days=MAX_START_AHEAD_DAYS):
            raise _invalid("start_date", "a subscription starts within a year", "too_far")
        missing = [
            ident
            for plan in catalog.plans.values()
            for ident in plan.product_ids
            if ident not in catalog.products
        ]
        if missing:
            raise _invalid("offer_id", "the offer's plan names products that no longer exist", "broken_offer")
        return start

    # ---- placing -------------------------------------------------------------------------------------

    def place(self, request: OrderRequest) -> Order:
        """Place an order; retried internally while concurrent orders take the same numbers."""
        now = self._clock.now()
        catalog = self._read_catalog(request)
        today = catalog.entity.business_date(now)
        start = self._check_offer(request, catalog, today)
        details = self._normalised_customer(request, catalog.entity.country)
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
        customer = prepared.customer
        creates: list[DocumentItem] = []
        replaces: list[tuple[DocumentItem, int]] = []
        updates = []
        new_customer = customer is None
        fees_with_versions = prepared.fees
        if customer is None:
            customer = _new_customer(prepared, details, now)
            creates.extend(new_customer_writes(customer))
        series = invoice_series(catalog.entity)

        subscription_id = new_id("sub")
        phases = phases_for_order(catalog.offer, catalog.plan, start)
        periods = billing_periods(phases, catalog.plans)
        first: BillingPeriod = next(periods)
        second: BillingPeriod = next(periods)
        method = request.payment_method
        agreement = _agreement(method, customer, series, now)
        status = SubscriptionStatus.PENDING if method in PROVIDER_METHODS else SubscriptionStatus.ACTIVE
        subscription = Subscription(
            id=subscription_id,
            customer_id=customer.id,
            customer_number=customer.number,
            legal_entity_id=catalog.entity.id,
            offer_id=catalog.offer.id,
            order_id=new_id("ord"),
            product_ids=catalog.plan.product_ids,
            quantity=request.quantity,
            status=status,
            payment_method=method,
            agreement_id=agreement.id,
            currency=catalog.plan.currency.value,
            language=customer.language,
            start_date=start,
            phases=phases,
            binding_end=binding_end(phases, catalog.plans),
            invoiced_period=first.dates,
            created_at=now,
        )
        seller = Seller(catalog.entity, self._vat)
        fees = [fee for fee, _ in fees_with_versions]
        first_invoice = build_period_invoice(
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
        # The first invoice with its ledger entry; customer credit may pay it at once. The counter claim
        # is the first update, so a lost race for the number is told apart below.
        issued = issuing_writes(
            series,
            [ToIssue(first_invoice, customer.number, Collection.ORDER_SETUP)],
            self._ledger,
        )
        (invoice,) = issued.documents
        assert invoice.kid is not None
        creates.extend(issued.creates)
        replaces.extend(issued.replaces)
        updates.extend(issued.updates)
        draft = build_draft(seller, subscription, second, catalog.products, [], now)
        subscription = subscription.model_copy(
            update={"next_invoice_id": draft.id, "next_invoice_date": renewal_index_date(draft, today)}
        )
        creates.extend(_subscription_writes(subscription, catalog.plan.id, agreement, draft))
        replaces.extend(self._fees.invoiced_writes(fees_with_versions, invoice.id))
        access_now = catalog.offer.access == OfferAccess.ON_ORDER and method not in PROVIDER_METHODS
        if access_now:
            grant_creates, grant_replaces = self._access.grant_writes(
                customer.id, catalog.plan.product_ids, subscription.id, first.period.end
            )
            creates.extend(grant_creates)
            replaces.extend(grant_replaces)
        payment = _payment(method, agreement, invoice.kid)
        order = Order(
            id=subscription.order_id,
            offer_id=catalog.offer.id,
            customer_id=customer.id,
            subscription_id=subscription.id,
            invoice_id=invoice.id,
            agreement_id=agreement.id,
            payment_method=method,
            payment=payment,
            channel=request.channel,
            new_customer=new_customer,
            created_at=now,
        )
        creates.append(document_item("order", keys.order(order.id), order))
        creates.extend(
            setup_writes(
                method,
                agreement_id=agreement.id,
                order_id=order.id,
                subscription_id=subscription.id,
                customer_id=customer.id,
                first_invoice_id=invoice.id,
                now=now,
            )
        )
        events = [*order_events(order, subscription, catalog.plan.id, now, access_now), *issued.events]
        try:
            self._store.write(creates, replaces, updates=updates, events=events)
        except WriteConflictError as error:
            if error.failed == [len(creates) + len(replaces)]:
                raise _InvoiceNumberTakenError(error.detail, error.failed) from error
            raise
        return order

    def order(self, order_id: str) -> Order:
        """One order, or 404."""
        from chalicelib.errors import NotFoundError

        found = self._store.get_document(keys.order(order_id).pk, "ORDER", Order)
        if found is None:
            raise NotFoundError(f"no order {order_id}")
        return found


def order_events(
    order: Order, subscription: Subscription, plan_id: str, now: datetime, access_granted: bool
) -> list[Event]:
    """``order.completed``, ``subscription.started`` and, when the order grants access at once,
    ``access.granted`` (a card or Vipps order grants it when its first payment is confirmed)."""
    entity = subscription.legal_entity_id
    events = [
        new_event(
            EventType.ORDER_COMPLETED,
            entity,
            now,
            order.id,
            {
                "order_id": order.id,
                "customer_id": order.customer_id,
                "subscription_ids": [subscription.id],
                "invoice_ids": [order.invoice_id],
            },
        ),
        new_event(
            EventType.SUBSCRIPTION_STARTED,
            entity,
            now,
            subscription.id,
            {
                "subscription_id": subscription.id,
                "customer_id": subscription.customer_id,
                "plan_id": plan_id,
                "quantity": subscription.quantity,
                "start": subscription.start_date,
                "status": subscription.status.value,
            },
        ),
    ]
    if access_granted:
        events.append(
            new_event(
                EventType.ACCESS_GRANTED,
                entity,
                now,
                f"{subscription.id}:{subscription.start_date.isoformat()}",
                {
                    "subscription_id": subscription.id,
                    "customer_id": subscription.customer_id,
                    "product_ids": subscription.product_ids,
                    "effective": subscription.start_date,
                    "reason": "order",
                },
            )
        )
    return events
