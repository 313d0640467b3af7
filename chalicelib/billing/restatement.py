"""What a change, pause or stop does to periods already invoiced, by whole days. Pure.

Every subscription line on an issued invoice covers a period ``[a, b)``. Credit notes take back suffixes of
it (a stop or change from day E credits ``[E, b)``; a full credit takes all of it), so what a line still
covers is ``[a, r)`` with ``r`` the earliest credited day. Restating from an effective date E then means,
line by line:

* a line starting on or after E is credited in full (its period will be invoiced again on the new terms);
* a line covering E (``a < E < r``) is, under ``prorate``, credited for the days from E: rounded once as
  ``gross × (b − E) / (b − a)`` less what earlier credits took. On an unpaid invoice the whole line is
  credited instead and the days used, ``[a, E)``, are invoiced again, so the customer sees one new
  invoice for what is owed. Under ``keep`` (proration ``none``) the line stays as it is.

The new terms (another plan or quantity, the part of a period after a pause) are charged for every period
that was already invoiced, on one invoice together with the days used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from chalicelib.billing.drafting import Seller
from chalicelib.billing.lines import build_line
from chalicelib.billing.models import DatePeriod, Invoice, InvoiceLine, InvoiceStatus, LineKind
from chalicelib.catalog.models import Product
from chalicelib.money import Currency, Money, VatRate, vat_from_gross
from chalicelib.periods import Period, prorate_by_days
from chalicelib.subscriptions.models import PlannedCredit, Restatement, Subscription
from chalicelib.subscriptions.timeline import BillingPeriod, period_charges


class Straddle(StrEnum):
    """What happens to the invoiced period that the effective date falls inside."""

    PRORATE = "prorate"
    KEEP = "keep"


@dataclass(frozen=True)
class IssuedInvoice:
    """An issued invoice of the subscription and the credit notes issued against it."""

    invoice: Invoice
    credit_notes: Sequence[Invoice]

    @property
    def credited(self) -> int:
        """Gross credited so far (positive)."""
        return -sum(note.totals.gross for note in self.credit_notes)

    @property
    def unpaid(self) -> bool:
        """Nothing has been paid on it: all that is not credited is still open."""
        invoice = self.invoice
        return (
            invoice.status == InvoiceStatus.ISSUED
            and invoice.open_amount >= invoice.totals.gross - self.credited
        )


@dataclass(frozen=True)
class LineCoverage:
    """One subscription line and what of it is not credited yet."""

    line: InvoiceLine
    start: date
    end: date
    covered_until: date
    credited: int
    currency: Currency

    @property
    def days(self) -> int:
        """The days the line was charged for."""
        return (self.end - self.start).days

    def share_from(self, day: date) -> int:
        """The line's gross for the days from ``day`` to its end, rounded once."""
        days = (self.end - max(day, self.start)).days
        if days <= 0:
            return 0
        gross = Money(self.line.gross, self.currency)
        return prorate_by_days(gross, Period(self.start, self.end), days).amount


def coverage(issued: IssuedInvoice) -> list[LineCoverage]:
    """Each subscription line of the invoice with the part its credit notes have not taken back."""
    lines: list[LineCoverage] = []
    credits = [line for note in issued.credit_notes for line in note.lines]
    for line in issued.invoice.lines:
        if line.kind != LineKind.SUBSCRIPTION or line.period is None:
            continue
        start, end = line.period.start, line.period.end
        matching = [
            credit
            for credit in credits
            if credit.product_id == line.product_id
            and credit.period is not None
            and credit.period.end == end
            and start <= credit.period.start < end
        ]
        covered_until = min((credit.period.start for credit in matching if credit.period), default=end)
        lines.append(
            LineCoverage(
                line, start, end, covered_until, -sum(c.gross for c in matching), issued.invoice.currency
            )
        )
    return lines


def _line_for(
    covered: LineCoverage, kind: LineKind, gross: int, period: DatePeriod, text: str
) -> InvoiceLine:
    line = covered.line
    split = vat_from_gross(Money(gross, covered.currency), VatRate(line.vat_rate))
    return line.model_copy(
        update={
            "kind": kind,
            "text": text,
            "quantity": 1,
            "unit_price": split.gross.amount,
            "net": split.net.amount,
            "vat": split.vat.amount,
            "gross": split.gross.amount,
            "period": period,
            "reference": line.product_id,
        }
    )


def credit_line(covered: LineCoverage, gross: int, start: date) -> InvoiceLine:
    """A credit line taking back ``gross`` for the days from ``start`` to the line's end."""
    days = (covered.end - start).days
    return _line_for(
        covered,
        LineKind.CREDIT,
        -gross,
        DatePeriod(start=start, end=covered.end),
        f"{covered.line.text} ({days}/{covered.days} days credited)",
    )


def used_line(covered: LineCoverage, gross: int, until: date) -> InvoiceLine:
    """A line charging ``gross`` for the days used, from the line's start to ``until``."""
    days = (until - covered.start).days
    return _line_for(
        covered,
        LineKind.SUBSCRIPTION,
        gross,
        DatePeriod(start=covered.start, end=until),
        f"{covered.line.text} ({days}/{covered.days} days used)",
    )


@dataclass(frozen=True)
class Restated:
    """The credits and the charges of a restatement, before numbering."""

    credits: list[PlannedCredit]
    lines: list[InvoiceLine]


def restate_issued(
    issued: Iterable[IssuedInvoice], effective: date, straddle: Straddle, number: int
) -> Restated:
    """Credit notes (and lines owed again) for every issued line that covers days from ``effective``."""
    credits: list[PlannedCredit] = []
    owed: list[InvoiceLine] = []
    for entry in sorted(issued, key=lambda e: e.invoice.period.start if e.invoice.period else date.min):
        invoice = entry.invoice
        if invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
            continue
        credit_lines: list[InvoiceLine] = []
        for covered in coverage(entry):
            if covered.covered_until <= effective:
                continue
            remaining = covered.line.gross - covered.credited
            if covered.start >= effective:
                credit_lines.append(credit_line(covered, remaining, covered.start))
            elif straddle == Straddle.KEEP:
                continue
            elif entry.unpaid:
                credit_lines.append(credit_line(covered, remaining, covered.start))
                used = covered.line.gross - covered.share_from(effective)
                if used:
                    owed.append(used_line(covered, used, effective))
            else:
                credit = covered.share_from(effective) - covered.credited
                if credit:
                    credit_lines.append(credit_line(covered, credit, effective))
        if credit_lines:
            credits.append(
                PlannedCredit(
                    credit_note_id=f"crn_{invoice.id.removeprefix('inv_')}_r{number}",
                    invoice_id=invoice.id,
                    lines=credit_lines,
                )
            )
    return Restated(credits, owed)


def new_terms_lines(
    seller: Seller,
    subscription: Subscription,
    periods: Iterable[BillingPeriod],
    products: Mapping[str, Product],
) -> list[InvoiceLine]:
    """The lines for periods charged again on the new terms."""
    lines: list[InvoiceLine] = []
    for billing_period in periods:
        quantity = billing_period.quantity or subscription.quantity
        for charge in period_charges(
            billing_period,
            products,
            quantity,
            seller.vat_table,
            seller.entity.country,
            subscription.language,
        ):
            lines.append(
                build_line(charge, billing_period.plan.prices_include_vat, billing_period.plan.currency)
            )
    return lines


def restatement(
    subscription: Subscription,
    number: int,
    restated: Restated,
    lines: Sequence[InvoiceLine],
    invoiced_period: DatePeriod,
) -> Restatement | None:
    """The restatement to record on the subscription, or None when nothing is credited or owed."""
    owed = [*restated.lines, *lines]
    if not restated.credits and not owed:
        return None
    periods = [line.period for line in owed if line.period is not None]
    period = (
        DatePeriod(start=min(p.start for p in periods), end=max(p.end for p in periods)) if periods else None
    )
    return Restatement(
        number=number,
        credits=restated.credits,
        invoice_id=restatement_invoice_id(subscription.id, number),
        lines=owed,
        period=period,
        invoiced_period=invoiced_period,
    )


def restatement_invoice_id(subscription_id: str, number: int) -> str:
    """The id of the invoice of a subscription's ``number``-th restatement (fixed, so a retry finds it)."""
    return f"inv_{subscription_id.split('_', 1)[-1]}_r{number}"
