"""Usage billed in arrears: quantities counted per subscription, metric and billing period, priced per unit
or in graduated tiers when the period is invoiced. Pure, apart from :class:`UsageCounter`'s storage keys.

A counter is invoiced by the first renewal issued on or after the day its period ends (so an invoice
issued ahead of its period carries the usage of periods that have ended by then), and is marked with that
invoice in the same transaction, so it is invoiced once.

A subscription that ends (stopped now or at period end) has no renewal left to carry the usage of its last
period(s): the stop lists it in the renewal index for its end date (:func:`final_invoice_day`), and the
invoice run of that day issues one **final invoice** (:func:`final_usage_invoice`, id
:func:`final_invoice_id`) with every counter not invoiced yet, each line's period cut at the end date,
numbered in the same series, marking the counters and taking the subscription out of the index in one
transaction (:func:`closed`). With no usage left to invoice, no invoice is issued: the subscription only
leaves the index. Either way ``usage_billed_until`` is set to the end date, and later reports are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

from chalicelib.billing.drafting import Seller
from chalicelib.billing.lines import Charge, build_line, totals_of, vat_summary_of
from chalicelib.billing.models import DatePeriod, Invoice, InvoiceLine, InvoiceStatus, LineKind
from chalicelib.catalog.models import Plan, Product, UsagePrice
from chalicelib.catalog.vat import VatCode, VatTable
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, document_item
from chalicelib.subscriptions.models import Subscription, SubscriptionStatus
from chalicelib.values import Document

ENDED = (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED)


class UsageCounter(Document):
    """The quantity of one metric used in one billing period, and the invoice that billed it."""

    subscription_id: str
    metric: str
    plan_id: str
    period: DatePeriod
    quantity: int = 0
    events: int = 0
    invoice_id: str | None = None


class UsageEvent(Document):
    """One reported use, kept under its idempotency key so a replay is never counted twice."""

    key: str
    subscription_id: str
    metric: str
    quantity: int
    at: date
    period_start: date


def tier_quantities(price: UsagePrice, quantity: int) -> list[tuple[int, int, int, int | None]]:
    """(units, unit price, first unit, last unit) for each tier the quantity reaches."""
    parts: list[tuple[int, int, int, int | None]] = []
    floor = 0
    for tier in price.tiers:
        ceiling = tier.up_to
        units = (quantity if ceiling is None else min(quantity, ceiling)) - floor
        if units > 0:
            parts.append((units, tier.unit_price, floor + 1, ceiling))
        if ceiling is None or quantity <= ceiling:
            break
        floor = ceiling
    return parts


def usage_lines(
    counters: Sequence[UsageCounter],
    plans: Mapping[str, Plan],
    products: Mapping[str, Product],
    vat_table: VatTable,
    country: str,
    language: str,
) -> list[InvoiceLine]:
    """One line per tier reached, per counter: the quantity, the unit price and the period it was used in."""
    lines: list[InvoiceLine] = []
    for counter in sorted(counters, key=lambda c: (c.period.start, c.metric)):
        plan = plans[counter.plan_id]
        price = plan.usage_price(counter.metric)
        if price is None or counter.quantity <= 0:
            continue
        product = products[price.product_id]
        code = VatCode(product.vat_rate_code)
        tiers = tier_quantities(price, counter.quantity)
        for units, unit_price, first, last in tiers:
            text = product.name_in(language)
            if len(price.tiers) > 1:
                text = f"{text} ({first}–{last})" if last is not None else f"{text} ({first}–)"
            charge = Charge(
                kind=LineKind.USAGE,
                text=text,
                quantity=units,
                unit_price=unit_price,
                vat_code=code.value,
                vat_rate=vat_table.resolve(country, code, counter.period.start),
                product_id=product.id,
                period=counter.period,
                reference=f"{counter.metric}:{counter.period.start.isoformat()}",
            )
            lines.append(build_line(charge, plan.prices_include_vat, plan.currency))
    return lines


def billable(counters: Sequence[UsageCounter], invoice_date: date) -> list[UsageCounter]:
    """The counters not invoiced yet whose period has ended by ``invoice_date``."""
    return [c for c in counters if c.invoice_id is None and c.period.end <= invoice_date and c.quantity > 0]


def with_usage(invoice: Invoice, lines: Sequence[InvoiceLine]) -> Invoice:
    """``invoice`` with usage lines added and its totals worked out again."""
    if not lines:
        return invoice
    all_lines = [*invoice.lines, *lines]
    totals = totals_of(all_lines)
    return invoice.model_copy(
        update={
            "lines": all_lines,
            "totals": totals,
            "vat_summary": vat_summary_of(all_lines),
            "open_amount": totals.gross,
        }
    )


def final_invoice_id(subscription_id: str) -> str:
    """The one final invoice a subscription can ever have (it ends once)."""
    return f"inv_{subscription_id.split('_', 1)[-1]}_final"


def final_invoice_day(ends_on: date, plans: Iterable[Plan], today: date) -> date | None:
    """The day the invoice run issues the final invoice of a subscription ending on ``ends_on``: the end
    date (a day's renewal index is complete before its run, so never before tomorrow), or None when none
    of its plans charges usage."""
    if not any(plan.usage for plan in plans):
        return None
    return max(ends_on, today + timedelta(days=1))


def final_invoice_due(subscription: Subscription, run_date: date) -> bool:
    """Whether the run on ``run_date`` issues the final invoice of ``subscription`` (it has ended)."""
    return (
        subscription.status in ENDED
        and subscription.ends_on is not None
        and subscription.final_invoice_on is not None
        and subscription.final_invoice_on <= run_date
    )


def unbilled(counters: Sequence[UsageCounter]) -> list[UsageCounter]:
    """The counters no invoice has carried yet (all of them go on a final invoice: no renewal follows)."""
    return [c for c in counters if c.invoice_id is None and c.quantity > 0]


def cut_at(counter: UsageCounter, ends_on: date) -> UsageCounter:
    """``counter`` with its period ending at ``ends_on`` at the latest (a stop in the middle of a period)."""
    if counter.period.end <= ends_on:
        return counter
    return counter.model_copy(update={"period": DatePeriod(start=counter.period.start, end=ends_on)})


def final_usage_invoice(
    seller: Seller,
    subscription: Subscription,
    counters: Sequence[UsageCounter],
    plans: Mapping[str, Plan],
    products: Mapping[str, Product],
    run_date: date,
    now: datetime,
) -> Invoice | None:
    """The final invoice of an ended subscription: its usage not invoiced yet, one line per tier reached
    per counter, the periods cut at the end date; issued on ``run_date`` and due after the payment
    method's days (numbered, with its KID, when committed). None when there is nothing to invoice."""
    ends_on = subscription.ends_on
    if ends_on is None:
        return None
    due = [cut_at(counter, ends_on) for counter in unbilled(counters)]
    lines = usage_lines(due, plans, products, seller.vat_table, seller.entity.country, subscription.language)
    if not lines:
        return None
    totals = totals_of(lines)
    periods = [line.period for line in lines if line.period is not None]
    return Invoice(
        id=final_invoice_id(subscription.id),
        legal_entity_id=seller.entity.id,
        customer_id=subscription.customer_id,
        subscription_id=subscription.id,
        status=InvoiceStatus.ISSUED,
        currency=subscription.currency,
        language=subscription.language,
        payment_method=subscription.payment_method,
        invoice_date=run_date,
        due_date=run_date + timedelta(days=seller.entity.due_days_for(subscription.payment_method)),
        period=DatePeriod(start=min(p.start for p in periods), end=max(p.end for p in periods)),
        lines=lines,
        totals=totals,
        vat_summary=vat_summary_of(lines),
        open_amount=totals.gross,
        issued_at=now,
        created_at=now,
    )


def closed(subscription: Subscription) -> Subscription:
    """``subscription`` after its final invoice (or after finding nothing to invoice): out of the renewal
    index, and every report for its time refused from now on."""
    return subscription.model_copy(
        update={"final_invoice_on": None, "usage_billed_until": subscription.ends_on}
    )


def usage_counter_item(counter: UsageCounter, version: int = 1) -> DocumentItem:
    """The stored counter."""
    return document_item(
        "usage_counter",
        keys.usage_counter(counter.subscription_id, counter.period.start, counter.metric),
        counter,
        version=version,
    )
