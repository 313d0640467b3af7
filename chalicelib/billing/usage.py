"""Usage billed in arrears: quantities counted per subscription, metric and billing period, priced per unit
or in graduated tiers when the period is invoiced. Pure, apart from :class:`UsageCounter`'s storage keys.

A counter is invoiced by the first renewal issued on or after the day its period ends (so an invoice
issued ahead of its period carries the usage of periods that have ended by then), and is marked with that
invoice in the same transaction, so it is invoiced once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from chalicelib.billing.lines import Charge, build_line, totals_of, vat_summary_of
from chalicelib.billing.models import DatePeriod, Invoice, InvoiceLine, LineKind
from chalicelib.catalog.models import Document, Plan, Product, UsagePrice
from chalicelib.catalog.vat import VatCode, VatTable
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, document_item


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


def usage_counter_item(counter: UsageCounter, version: int = 1) -> DocumentItem:
    """The stored counter."""
    return document_item(
        "usage_counter",
        keys.usage_counter(counter.subscription_id, counter.period.start, counter.metric),
        counter,
        version=version,
    )
