"""What a change or stop leaves of an invoiced period, by whole days. Pure.

A change made at any moment of local day D takes effect at the end of D: the days up to D are used, the
rest unused. Each line's unused share is rounded once (half away from zero) and its VAT is split from
that gross at the line's own rate, so a credit line always has gross = net + VAT.
"""

from __future__ import annotations

from datetime import date

from chalicelib.billing.models import Invoice, InvoiceLine, LineKind
from chalicelib.billing.periods import Period, unused_days
from chalicelib.money import Money, VatRate, vat_from_gross


def unused_credit_lines(invoice: Invoice, change_day: date) -> list[InvoiceLine]:
    """Negative lines crediting the unused days of each subscription line of ``invoice``."""
    credits: list[InvoiceLine] = []
    for line in invoice.lines:
        if line.kind != LineKind.SUBSCRIPTION or line.period is None:
            continue
        period = Period(line.period.start, line.period.end)
        days_left = unused_days(period, change_day)
        if days_left <= 0:
            continue
        unused_gross = Money(line.gross, invoice.currency).prorate(days_left, period.days)
        split = vat_from_gross(unused_gross, VatRate(line.vat_rate))
        credits.append(
            line.model_copy(
                update={
                    "kind": LineKind.CREDIT,
                    "text": f"{line.text} ({days_left}/{period.days} days unused)",
                    "quantity": 1,
                    "unit_price": -split.gross.amount,
                    "net": -split.net.amount,
                    "vat": -split.vat.amount,
                    "gross": -split.gross.amount,
                    "reference": line.product_id,
                }
            )
        )
    return credits
