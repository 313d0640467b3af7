"""Renewing a subscription: the period after the last invoiced one is issued, the next one drafted. Pure.

An invoice issued on time is due when its period starts; one issued late (the run was down, or the
subscription changed) keeps the same notice from its actual issue date. The renewal index date of the
next draft is never earlier than the day after the run, so a run never chases its own output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chalicelib.billing.drafting import Seller, build_draft, build_period_invoice, invoice_date_for
from chalicelib.billing.drafts import renewal_index_date
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.billing.usage import UsageCounter
from chalicelib.catalog.models import Plan, Product
from chalicelib.customers.models import Fee
from chalicelib.subscriptions.models import Subscription, SubscriptionStatus
from chalicelib.subscriptions.timeline import BillingPeriod, billing_periods

RENEWABLE = (SubscriptionStatus.ACTIVE,)


@dataclass(frozen=True)
class Renewal:
    """What one renewal writes: the issued invoice, the next draft, the subscription after it."""

    invoice: Invoice
    draft: Invoice | None
    subscription: Subscription
    usage: tuple[tuple[UsageCounter, int], ...] = ()


def next_billing_period(subscription: Subscription, plans: Mapping[str, Plan]) -> BillingPeriod | None:
    """The first period after the last invoiced one (None when the subscription's phases end)."""
    return next(
        (
            bp
            for bp in billing_periods(subscription.phases, plans)
            if bp.period.start >= subscription.invoiced_period.end
        ),
        None,
    )


def due_for_renewal(
    seller: Seller, subscription: Subscription, plans: Mapping[str, Plan], run_date: date
) -> BillingPeriod | None:
    """The period to invoice on ``run_date``; None if nothing is due or the subscription does not renew."""
    if subscription.status not in RENEWABLE:
        return None
    following = next_billing_period(subscription, plans)
    if following is None or invoice_date_for(seller, subscription, following) > run_date:
        return None
    return following


def renew(
    seller: Seller,
    subscription: Subscription,
    billing_period: BillingPeriod,
    plans: Mapping[str, Plan],
    products: Mapping[str, Product],
    fees: Sequence[Fee],
    run_date: date,
    now: datetime,
) -> Renewal:
    """Issue ``billing_period`` and draft the period after it. The invoice gets its number and KID when it
    is issued (:func:`chalicelib.billing.issuing.issuing_writes`)."""
    planned = invoice_date_for(seller, subscription, billing_period)
    notice = billing_period.period.start - planned
    due = billing_period.period.start if run_date <= planned else run_date + max(notice, timedelta(0))
    invoice = build_period_invoice(
        seller, subscription, billing_period, products, fees, now, InvoiceStatus.ISSUED, run_date, due
    ).model_copy(update={"issued_at": now})
    advanced = subscription.model_copy(update={"invoiced_period": billing_period.dates})
    following = next_billing_period(advanced, plans)
    draft = build_draft(seller, advanced, following, products, [], now) if following else None
    advanced = advanced.model_copy(
        update={
            "next_invoice_id": draft.id if draft else None,
            "next_invoice_date": renewal_index_date(draft, run_date) if draft else None,
        }
    )
    return Renewal(invoice=invoice, draft=draft, subscription=advanced)
