"""What placing an order creates: the customer, the payment agreement, the subscription with its first
two billing periods, the order record, their items and the order's events. Pure builders for the flow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.avtalegiro.mandates import agreement_kid_writes
from chalicelib.billing.drafts import document_item_for
from chalicelib.billing.issuing import InvoiceSeries
from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LegalEntity, Offer, Plan, Product
from chalicelib.customers.models import Customer, CustomerType
from chalicelib.events import Event, EventType, new_event
from chalicelib.ids import new_id
from chalicelib.orders.models import Order, OrderRequest
from chalicelib.orders.rules import INVOICE_METHODS, PROVIDER_METHODS, order_payment
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    document_item,
    lookup_item,
)
from chalicelib.subscriptions.models import (
    AgreementStatus,
    PaymentAgreement,
    Subscription,
    SubscriptionStatus,
)
from chalicelib.subscriptions.timeline import BillingPeriod, billing_periods, binding_end, phases_for_order
from chalicelib.subscriptions.writes import subscription_item
from chalicelib.values import Address, PaymentMethod


@dataclass(frozen=True)
class OrderCatalog:
    """Everything of the catalog one order needs, read before the transaction."""

    offer: Offer
    plan: Plan
    plans: Mapping[str, Plan]
    products: Mapping[str, Product]
    entity: LegalEntity


def new_subscription_writes(
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


def new_agreement(
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


def new_customer(customer_id: str, number: int, details: Mapping[str, object], now: datetime) -> Customer:
    """The customer an order creates, with the id and number reserved for it."""
    address = details.get("address")
    return Customer(
        id=customer_id,
        number=number,
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


def new_subscription(
    request: OrderRequest,
    catalog: OrderCatalog,
    customer: Customer,
    agreement: PaymentAgreement,
    start: date,
    now: datetime,
) -> tuple[Subscription, BillingPeriod, BillingPeriod]:
    """The ordered subscription (pending while a provider must confirm its agreement), with its first and
    second billing periods."""
    phases = phases_for_order(catalog.offer, catalog.plan, start)
    periods = billing_periods(phases, catalog.plans)
    first: BillingPeriod = next(periods)
    second: BillingPeriod = next(periods)
    method = request.payment_method
    subscription = Subscription(
        id=new_id("sub"),
        customer_id=customer.id,
        customer_number=customer.number,
        legal_entity_id=catalog.entity.id,
        offer_id=catalog.offer.id,
        order_id=new_id("ord"),
        product_ids=catalog.plan.product_ids,
        quantity=request.quantity,
        status=SubscriptionStatus.PENDING if method in PROVIDER_METHODS else SubscriptionStatus.ACTIVE,
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
    return subscription, first, second


def new_order(
    request: OrderRequest,
    catalog: OrderCatalog,
    subscription: Subscription,
    invoice: Invoice,
    agreement: PaymentAgreement,
    new_customer: bool,
    now: datetime,
) -> Order:
    """The order record."""
    assert invoice.kid is not None
    return Order(
        id=subscription.order_id,
        offer_id=catalog.offer.id,
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        invoice_id=invoice.id,
        agreement_id=agreement.id,
        payment_method=request.payment_method,
        payment=order_payment(request.payment_method, agreement.kid, invoice.kid),
        channel=request.channel,
        new_customer=new_customer,
        created_at=now,
    )


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
