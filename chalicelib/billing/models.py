"""Invoices, credit notes and their lines, as stored and as shown."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from chalicelib.money import Currency
from chalicelib.values import Document, PaymentMethod


class InvoiceStatus(StrEnum):
    """Where an invoice stands."""

    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    CREDITED = "credited"
    VOID = "void"


class InvoiceKind(StrEnum):
    """An invoice, or a credit note referencing one."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class LineKind(StrEnum):
    """Why a line is on an invoice."""

    SUBSCRIPTION = "subscription"
    FEE = "fee"
    USAGE = "usage"
    PRORATION = "proration"
    CREDIT = "credit"


class DatePeriod(Document):
    """A half-open period of local dates: ``end`` is the first day not covered."""

    start: date
    end: date


class InvoiceLine(Document):
    """One line: quantity × unit price, with its VAT; gross is always net + VAT."""

    kind: LineKind
    text: str
    product_id: str | None = None
    period: DatePeriod | None = None
    quantity: int
    unit_price: int
    vat_code: str
    vat_rate: int = Field(description="basis points: 2500 is 25 %")
    net: int
    vat: int
    gross: int
    reference: str | None = Field(default=None, description="what the line stems from (fee id, usage key…)")


class Totals(Document):
    """Sums of the lines."""

    net: int
    vat: int
    gross: int


class VatSummaryRow(Document):
    """Net and VAT of all lines at one rate."""

    vat_rate: int
    net: int
    vat: int


class Invoice(Document):
    """An invoice or credit note. Drafts have no number; issued ones are never edited."""

    id: str
    kind: InvoiceKind = InvoiceKind.INVOICE
    legal_entity_id: str
    customer_id: str
    subscription_id: str | None = None
    status: InvoiceStatus
    number: int | None = None
    kid: str | None = None
    currency: Currency
    language: str = "nb"
    payment_method: PaymentMethod
    invoice_date: date = Field(description="the day it is (or was) issued")
    due_date: date
    period: DatePeriod | None = None
    lines: list[InvoiceLine]
    totals: Totals
    vat_summary: list[VatSummaryRow]
    open_amount: int
    credited_invoice_id: str | None = None
    issued_at: datetime | None = None
    created_at: datetime
