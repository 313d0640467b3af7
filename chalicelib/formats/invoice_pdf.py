"""Invoice and credit-note PDFs, in the customer's language (nb, sv, da, en), with what Norwegian
bookkeeping rules ask of a sales document (bokføringsforskriften § 5-1-1): the seller's name, address and
organisation number (with "MVA" when VAT-registered, and "Foretaksregisteret" where registered), the
buyer, number, date, delivery period, what was sold, VAT per rate, totals and the due date, and a payment
section with account number, KID and amount.

Rendering is deterministic (ReportLab's invariant mode): the same invoice gives the same bytes.
The standard Helvetica font covers Windows-1252, which holds every Nordic letter; anything else is
replaced rather than silently dropped.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from chalicelib.billing.models import Invoice, InvoiceKind
from chalicelib.catalog.models import LegalEntity
from chalicelib.customers.models import Customer
from chalicelib.formats.invoice_labels import LABELS, LOCALES
from chalicelib.values import Address


@dataclass(frozen=True)
class InvoiceDocument:
    """What an invoice PDF shows: the invoice, its seller and buyer, and (for a credit note) the number
    of the invoice it credits."""

    invoice: Invoice
    seller: LegalEntity
    customer: Customer
    credited_number: int | None = None


def _text(value: str) -> str:
    """Text Helvetica can show: Windows-1252, with the few typographic characters babel uses mapped."""
    value = value.replace("\u2212", "-").replace("\u202f", "\u00a0").replace("\u2009", " ")
    return value.encode("cp1252", errors="replace").decode("cp1252")


def _escape(value: str) -> str:
    return _text(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Format:
    """Dates, amounts and percentages for one language."""

    def __init__(self, language: str, currency: str) -> None:
        self.locale = LOCALES.get(language, "nb_NO")
        self.labels = LABELS.get(language, LABELS["nb"])
        self.currency = currency

    def money(self, minor: int) -> str:
        return _text(format_currency(Decimal(minor).scaleb(-2), self.currency, locale=self.locale))

    def day(self, value: date) -> str:
        return _text(format_date(value, "short", locale=self.locale))

    def percent(self, basis_points: int) -> str:
        return _text(format_decimal(Decimal(basis_points).scaleb(-2), locale=self.locale)) + " %"

    def period(self, start: date, end: date) -> str:
        # Periods are half-open; people read the inclusive last day.
        return f"{self.day(start)} - {self.day(end - timedelta(days=1))}"


def organisation_number(seller: LegalEntity, labels: dict[str, str]) -> str:
    """``Org.nr. 974 760 673 MVA`` (Norway groups the nine digits in threes; MVA when registered)."""
    digits = "".join(ch for ch in seller.organization_number if ch.isdigit())
    number = (
        f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        if seller.country == "NO" and len(digits) == 9
        else seller.organization_number
    )
    suffix = " MVA" if seller.vat_registered and seller.country == "NO" else ""
    return f"{labels['org_number']} {number}{suffix}"


def _address(address: Address | None) -> list[str]:
    if address is None:
        return []
    lines = [
        address.line1,
        *([address.line2] if address.line2 else []),
        f"{address.postal_code} {address.city}",
    ]
    return lines


class _Styles:
    """The few paragraph styles an invoice uses."""

    def __init__(self) -> None:
        base = getSampleStyleSheet()["Normal"]
        self.body = ParagraphStyle("body", parent=base, fontName="Helvetica", fontSize=9, leading=12)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8, leading=10)
        self.title = ParagraphStyle(
            "title", parent=self.body, fontName="Helvetica-Bold", fontSize=16, leading=20
        )
        self.heading = ParagraphStyle(
            "heading", parent=self.body, fontName="Helvetica-Bold", fontSize=10, leading=14
        )


class _Renderer:
    """Builds the story of one document, section by section."""

    def __init__(self, document: InvoiceDocument) -> None:
        self.document = document
        self.invoice = document.invoice
        self.fmt = _Format(
            document.invoice.language or document.customer.language, self.invoice.currency.value
        )
        self.labels = self.fmt.labels
        self.credit = self.invoice.kind == InvoiceKind.CREDIT_NOTE
        self.styles = _Styles()

    def para(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(_escape(text), style or self.styles.body)

    def story(self) -> list[Flowable]:
        labels = self.labels
        title = f"{labels['credit_note' if self.credit else 'invoice']} {self.invoice.number}"
        story: list[Flowable] = [self.para(title, self.styles.title), Spacer(1, 4 * mm)]
        story += [self.parties(), Spacer(1, 5 * mm), self.facts(), Spacer(1, 6 * mm)]
        story += [self.lines(), Spacer(1, 5 * mm), self.para(labels["vat_summary"], self.styles.heading)]
        story += [self.vat_summary(), Spacer(1, 3 * mm), self.totals(), Spacer(1, 8 * mm)]
        if not self.document.seller.vat_registered:
            story += [self.para(labels["vat_exempt"], self.styles.small), Spacer(1, 3 * mm)]
        story.append(self.para(labels["credit_info"]) if self.credit else self.payment())
        return story

    def parties(self) -> Table:
        seller, customer, labels = self.document.seller, self.document.customer, self.labels
        seller_lines = [seller.name, *_address(seller.address), organisation_number(seller, labels)]
        if seller.register_name and seller.country == "NO":
            seller_lines.append(seller.register_name)
        if seller.email:
            seller_lines.append(seller.email)
        buyer_lines = [customer.name, *_address(customer.address)]
        if customer.org_number:
            buyer_lines.append(f"{labels['org_number']} {customer.org_number}")
        table = Table(
            [
                [
                    self.para(labels["seller"], self.styles.heading),
                    self.para(labels["buyer"], self.styles.heading),
                ],
                [[self.para(line) for line in seller_lines], [self.para(line) for line in buyer_lines]],
            ],
            colWidths=[90 * mm, 90 * mm],
        )
        table.setStyle(
            TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
        )
        return table

    def facts(self) -> Table:
        invoice, labels, fmt = self.invoice, self.labels, self.fmt
        facts: list[tuple[str, str]] = [
            (labels["credit_number" if self.credit else "number"], str(invoice.number)),
            (labels["invoice_date"], fmt.day(invoice.invoice_date)),
        ]
        if not self.credit:
            facts.append((labels["due_date"], fmt.day(invoice.due_date)))
        if invoice.period:
            facts.append((labels["period"], fmt.period(invoice.period.start, invoice.period.end)))
        facts.append((labels["customer_number"], str(self.document.customer.number)))
        if self.credit and self.document.credited_number is not None:
            facts.append((labels["credits"], str(self.document.credited_number)))
        if invoice.kid and not self.credit:
            facts.append((labels["kid"], invoice.kid))
        table = Table(
            [[self.para(k), self.para(v)] for k, v in facts], colWidths=[45 * mm, 60 * mm], hAlign="LEFT"
        )
        table.setStyle(
            TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1)])
        )
        return table

    def lines(self) -> Table:
        labels, fmt, small = self.labels, self.fmt, self.styles.small
        names = ["description", "line_period", "quantity", "unit_price", "vat_rate", "net", "vat", "amount"]
        numeric = ParagraphStyle("numeric", parent=small, alignment=2)
        rows: list[list[Flowable | str]] = [
            [self.para(labels[name], small if index < 2 else numeric) for index, name in enumerate(names)]
        ]
        for line in self.invoice.lines:
            rows.append(
                [
                    self.para(line.text, small),
                    self.para(fmt.period(line.period.start, line.period.end), small) if line.period else "",
                    _text(str(line.quantity)),
                    fmt.money(line.unit_price),
                    fmt.percent(line.vat_rate),
                    fmt.money(line.net),
                    fmt.money(line.vat),
                    fmt.money(line.gross),
                ]
            )
        widths = [37 * mm, 36 * mm, 12 * mm, 21 * mm, 17 * mm, 20 * mm, 17 * mm, 20 * mm]
        table = Table(rows, colWidths=widths, repeatRows=1)
        table.setStyle(_grid(len(rows), numeric_from=2))
        return table

    def vat_summary(self) -> Table:
        small, fmt = self.styles.small, self.fmt
        numeric = ParagraphStyle("numeric", parent=small, alignment=2)
        rows: list[list[Flowable | str]] = [
            [self.para(self.labels[name], numeric) for name in ("vat_rate", "basis", "vat")]
        ]
        rows += [
            [fmt.percent(r.vat_rate), fmt.money(r.net), fmt.money(r.vat)] for r in self.invoice.vat_summary
        ]
        table = Table(rows, colWidths=[25 * mm, 30 * mm, 30 * mm], hAlign="LEFT")
        table.setStyle(_grid(len(rows), numeric_from=0))
        return table

    def totals(self) -> Table:
        totals, labels, fmt = self.invoice.totals, self.labels, self.fmt
        table = Table(
            [
                [labels["total_net"], fmt.money(totals.net)],
                [labels["total_vat"], fmt.money(totals.vat)],
                [labels["total_credit" if self.credit else "total"], fmt.money(totals.gross)],
            ],
            colWidths=[40 * mm, 35 * mm],
            hAlign="RIGHT",
        )
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), "Helvetica"),
                    ("FONTNAME", (0, 2), (-1, 2), "Helvetica-Bold"),
                    ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                    ("LINEABOVE", (0, 2), (-1, 2), 0.5, colors.black),
                ]
            )
        )
        return table

    def payment(self) -> Table:
        invoice, labels, fmt = self.invoice, self.labels, self.fmt
        table = Table(
            [
                [self.para(labels["payment"], self.styles.heading), ""],
                [labels["account"], _text(self.document.seller.bank_account)],
                [labels["kid"], invoice.kid or ""],
                [labels["pay_amount"], fmt.money(invoice.totals.gross)],
                [labels["due_date"], fmt.day(invoice.due_date)],
            ],
            colWidths=[45 * mm, 60 * mm],
            hAlign="LEFT",
        )
        table.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 1), (-1, -1), "Helvetica"),
                    ("BOX", (0, 0), (-1, -1), 0.75, colors.black),
                    ("SPAN", (0, 0), (-1, 0)),
                ]
            )
        )
        return table


def render_invoice_pdf(document: InvoiceDocument) -> bytes:
    """The PDF of an invoice or credit note."""
    renderer = _Renderer(document)
    buffer = io.BytesIO()
    kind = renderer.labels["credit_note" if renderer.credit else "invoice"]
    pdf = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=_text(f"{kind} {document.invoice.number}"),
        author=_text(document.seller.name),
        invariant=1,
    )
    pdf.build(renderer.story())
    return buffer.getvalue()


def _grid(rows: int, numeric_from: int) -> TableStyle:
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), "Helvetica"),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
            ("LINEBELOW", (0, rows - 1), (-1, rows - 1), 0.25, colors.grey),
        ]
    )
