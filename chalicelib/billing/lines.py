"""Building invoice lines and totals from prices: pure, to the øre.

VAT is computed per line and rounded half away from zero; with ``prices_include_vat`` the unit price is
gross and VAT is taken out of it, otherwise VAT is added on top. Totals and the VAT summary are sums of
the lines, so they always add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from chalicelib.billing.models import DatePeriod, InvoiceLine, LineKind, Totals, VatSummaryRow
from chalicelib.money import Currency, Money, VatRate, vat_from_gross, vat_from_net


@dataclass(frozen=True)
class Charge:
    """Something to put on an invoice before VAT is worked out."""

    kind: LineKind
    text: str
    quantity: int
    unit_price: int
    vat_code: str
    vat_rate: VatRate
    product_id: str | None = None
    period: DatePeriod | None = None
    reference: str | None = None
    amount: int | None = None  # a prorated line's total, rounded once; default quantity × unit price


def build_line(charge: Charge, prices_include_vat: bool, currency: Currency) -> InvoiceLine:
    """One invoice line from a charge: amount = quantity × unit price, VAT per the pricing basis."""
    amount = Money(charge.quantity * charge.unit_price if charge.amount is None else charge.amount, currency)
    split = (
        vat_from_gross(amount, charge.vat_rate)
        if prices_include_vat
        else vat_from_net(amount, charge.vat_rate)
    )
    return InvoiceLine(
        kind=charge.kind,
        text=charge.text,
        product_id=charge.product_id,
        period=charge.period,
        quantity=charge.quantity,
        unit_price=charge.unit_price,
        vat_code=charge.vat_code,
        vat_rate=charge.vat_rate.basis_points,
        net=split.net.amount,
        vat=split.vat.amount,
        gross=split.gross.amount,
        reference=charge.reference,
    )


def totals_of(lines: Iterable[InvoiceLine]) -> Totals:
    """Net, VAT and gross of all lines."""
    listed = list(lines)
    return Totals(
        net=sum(line.net for line in listed),
        vat=sum(line.vat for line in listed),
        gross=sum(line.gross for line in listed),
    )


def vat_summary_of(lines: Sequence[InvoiceLine]) -> list[VatSummaryRow]:
    """Net and VAT per rate, highest rate first (as Norwegian invoices show them)."""
    rates = sorted({line.vat_rate for line in lines}, reverse=True)
    return [
        VatSummaryRow(
            vat_rate=rate,
            net=sum(line.net for line in lines if line.vat_rate == rate),
            vat=sum(line.vat for line in lines if line.vat_rate == rate),
        )
        for rate in rates
    ]
