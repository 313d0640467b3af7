"""Response shapes of subscriptions and invoices, shared by every route that shows them."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from chalicelib.api.schemas import MoneyModel, ResponseModel
from chalicelib.billing.models import DatePeriod, Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from chalicelib.money import Currency, Money
from chalicelib.subscriptions.models import AgreementStatus, Subscription, SubscriptionStatus
from chalicelib.values import PaymentMethod


class PeriodView(ResponseModel):
    """A half-open period: ``end`` is the first day not covered."""

    start: date
    end: date


class LineView(ResponseModel):
    """One invoice line."""

    kind: LineKind
    text: str
    product_id: str | None
    period: PeriodView | None
    quantity: int
    unit_price: MoneyModel
    vat_code: str
    vat_rate: str
    net: MoneyModel
    vat: MoneyModel
    gross: MoneyModel


class TotalsView(ResponseModel):
    """Sums of the lines."""

    net: MoneyModel
    vat: MoneyModel
    gross: MoneyModel


class VatRowView(ResponseModel):
    """Net and VAT at one rate."""

    vat_rate: str
    net: MoneyModel
    vat: MoneyModel


class InvoiceView(ResponseModel):
    """An invoice, a draft or a credit note."""

    id: str
    kind: InvoiceKind
    number: int | None
    kid: str | None
    legal_entity_id: str
    customer_id: str
    subscription_id: str | None
    status: InvoiceStatus
    currency: Currency
    language: str
    payment_method: PaymentMethod
    issue_date: date
    due_date: date
    period: PeriodView | None
    lines: list[LineView]
    totals: TotalsView
    vat_summary: list[VatRowView]
    open_amount: MoneyModel
    credited_invoice_id: str | None
    issued_at: datetime | None


def _percent(basis_points: int) -> str:
    whole, rest = divmod(basis_points, 100)
    return str(whole) if rest == 0 else f"{whole}.{rest:02d}".rstrip("0")


def _period(period: DatePeriod | None) -> PeriodView | None:
    return PeriodView(start=period.start, end=period.end) if period else None


def invoice_view(invoice: Invoice) -> InvoiceView:
    """The API's shape of an invoice."""

    def money(amount: int) -> MoneyModel:
        return MoneyModel.of(Money(amount, invoice.currency))

    def line(item: InvoiceLine) -> LineView:
        return LineView(
            kind=item.kind,
            text=item.text,
            product_id=item.product_id,
            period=_period(item.period),
            quantity=item.quantity,
            unit_price=money(item.unit_price),
            vat_code=item.vat_code,
            vat_rate=_percent(item.vat_rate),
            net=money(item.net),
            vat=money(item.vat),
            gross=money(item.gross),
        )

    return InvoiceView(
        id=invoice.id,
        kind=invoice.kind,
        number=invoice.number,
        kid=invoice.kid,
        legal_entity_id=invoice.legal_entity_id,
        customer_id=invoice.customer_id,
        subscription_id=invoice.subscription_id,
        status=invoice.status,
        currency=invoice.currency,
        language=invoice.language,
        payment_method=invoice.payment_method,
        issue_date=invoice.invoice_date,
        due_date=invoice.due_date,
        period=_period(invoice.period),
        lines=[line(item) for item in invoice.lines],
        totals=TotalsView(
            net=money(invoice.totals.net), vat=money(invoice.totals.vat), gross=money(invoice.totals.gross)
        ),
        vat_summary=[
            VatRowView(vat_rate=_percent(row.vat_rate), net=money(row.net), vat=money(row.vat))
            for row in invoice.vat_summary
        ],
        open_amount=money(invoice.open_amount),
        credited_invoice_id=invoice.credited_invoice_id,
        issued_at=invoice.issued_at,
    )


class SubscriptionView(ResponseModel):
    """A subscription and the draft of its next invoice."""

    id: str
    customer_id: str
    legal_entity_id: str
    offer_id: str
    plan_id: str
    product_ids: list[str]
    quantity: int
    status: SubscriptionStatus
    payment_method: PaymentMethod
    agreement_id: str
    agreement_status: AgreementStatus | None = Field(
        description="the payment agreement's state; stopped: the customer stopped it (e.g. in the Vipps "
        "app) and must choose another way to pay"
    )
    start_date: date
    binding_end: date | None
    ends_on: date | None
    current_period: PeriodView
    next_invoice: InvoiceView | None
    created_at: datetime


def subscription_view(
    subscription: Subscription,
    plan_id: str,
    current_period: DatePeriod,
    draft: Invoice | None,
    agreement_status: AgreementStatus | None,
) -> SubscriptionView:
    """The API's shape of a subscription; ``plan_id`` and ``current_period`` are today's."""
    return SubscriptionView(
        id=subscription.id,
        customer_id=subscription.customer_id,
        legal_entity_id=subscription.legal_entity_id,
        offer_id=subscription.offer_id,
        plan_id=plan_id,
        product_ids=subscription.product_ids,
        quantity=subscription.quantity,
        status=subscription.status,
        payment_method=subscription.payment_method,
        agreement_id=subscription.agreement_id,
        agreement_status=agreement_status,
        start_date=subscription.start_date,
        binding_end=subscription.binding_end,
        ends_on=subscription.ends_on,
        current_period=PeriodView(start=current_period.start, end=current_period.end),
        next_invoice=invoice_view(draft) if draft else None,
        created_at=subscription.created_at,
    )
