"""Building a subscription period's invoice (a draft, or the issued first invoice). Pure.

Invoice ids are deterministic per subscription and period start, so the same period can never be
invoiced twice: the draft becomes the issued invoice in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chalicelib.billing.lines import Charge, build_line, totals_of, vat_summary_of
from chalicelib.billing.models import Invoice, InvoiceStatus, LineKind
from chalicelib.catalog.models import LegalEntity, Product
from chalicelib.catalog.vat import VatCode, VatTable
from chalicelib.customers.models import Fee
from chalicelib.subscriptions.models import Subscription
from chalicelib.subscriptions.timeline import BillingPeriod, period_charges


def subscription_invoice_id(subscription_id: str, period_start: date) -> str:
    """The one invoice id a subscription's period can ever have."""
    return f"inv_{subscription_id.split('_', 1)[-1]}_{period_start:%Y%m%d}"


@dataclass(frozen=True)
class Seller:
    """What invoicing needs to know of the seller and its tax rules."""

    entity: LegalEntity
    vat_table: VatTable


def fee_charges(fees: Sequence[Fee], vat_table: VatTable, country: str, on: date) -> list[Charge]:
    """One charge per pending fee."""
    return [
        Charge(
            kind=LineKind.FEE,
            text=fee.text,
            quantity=1,
            unit_price=fee.amount,
            vat_code=fee.vat_code.value,
            vat_rate=vat_table.resolve(country, VatCode(fee.vat_code), on),
            reference=fee.id,
        )
        for fee in fees
    ]


def invoice_date_for(seller: Seller, subscription: Subscription, billing_period: BillingPeriod) -> date:
    """When a renewal is issued: the period's start less the payment method's lead time."""
    return billing_period.period.start - timedelta(
        days=seller.entity.lead_days_for(subscription.payment_method)
    )


def build_period_invoice(
    seller: Seller,
    subscription: Subscription,
    billing_period: BillingPeriod,
    products: Mapping[str, Product],
    fees: Sequence[Fee],
    now: datetime,
    status: InvoiceStatus,
    invoice_date: date,
    due_date: date,
) -> Invoice:
    """The invoice for one billing period of a subscription, with the given fees added."""
    country = seller.entity.country
    quantity = billing_period.quantity or subscription.quantity
    charges = period_charges(
        billing_period, products, quantity, seller.vat_table, country, subscription.language
    )
    charges += fee_charges(fees, seller.vat_table, country, billing_period.period.start)
    include_vat = billing_period.plan.prices_include_vat
    lines = [build_line(charge, include_vat, billing_period.plan.currency) for charge in charges]
    totals = totals_of(lines)
    return Invoice(
        id=subscription_invoice_id(subscription.id, billing_period.period.start),
        legal_entity_id=seller.entity.id,
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        status=status,
        currency=billing_period.plan.currency,
        language=subscription.language,
        payment_method=subscription.payment_method,
        invoice_date=invoice_date,
        due_date=due_date,
        period=billing_period.dates,
        lines=lines,
        totals=totals,
        vat_summary=vat_summary_of(lines),
        open_amount=totals.gross,
        created_at=now,
    )


def build_draft(
    seller: Seller,
    subscription: Subscription,
    billing_period: BillingPeriod,
    products: Mapping[str, Product],
    fees: Sequence[Fee],
    now: datetime,
) -> Invoice:
    """The draft of a renewal: issued ``lead days`` before the period, due when the period starts."""
    issue_on = invoice_date_for(seller, subscription, billing_period)
    return build_period_invoice(
        seller,
        subscription,
        billing_period,
        products,
        fees,
        now,
        InvoiceStatus.DRAFT,
        issue_on,
        max(issue_on, billing_period.period.start),
    )
