"""Incoming payment routes (admin): payments in a period with their totals, and payments parked in
suspense until someone assigns them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from chalicelib.api.paging import Cursor, Limit
from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import MoneyModel, QueryModel, RequestModel, ResponseModel
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.ledger.models import IncomingMethod, Payment, PaymentStatus, SuspenseItem, SuspenseStatus
from chalicelib.money import Currency, Money

router = Router("incoming_payments", tag="ledger")


def _money(amount: int, currency: Currency) -> MoneyModel:
    return MoneyModel.of(Money(amount, currency))


class PaymentsQuery(QueryModel):
    """The period (inclusive dates the money was paid) and filters."""

    from_: date = Field(alias="from")
    to: date
    method: IncomingMethod | None = None
    status: PaymentStatus | None = None
    limit: Limit = 50
    cursor: Cursor = None


class AllocationView(ResponseModel):
    """Part of a payment applied to an invoice."""

    invoice_id: str
    amount: MoneyModel


class PaymentView(ResponseModel):
    """An incoming payment and where it went."""

    id: str
    source: str
    source_reference: str
    method: IncomingMethod
    status: PaymentStatus
    amount: MoneyModel
    paid_on: date
    kid: str | None
    customer_id: str | None
    legal_entity_id: str | None
    invoice_id: str | None
    suspense_reason: str | None
    allocations: list[AllocationView]
    to_credit: MoneyModel
    refunded: MoneyModel
    became_paid: list[str]
    file_id: str | None
    payer_account: str | None
    text: str | None
    received_at: datetime


class TotalView(ResponseModel):
    """Count and sum of the selected payments in one currency."""

    count: int
    amount: MoneyModel


class PaymentList(ResponseModel):
    """A page of payments and the totals of the whole selection."""

    items: list[PaymentView]
    totals: list[TotalView]
    next_cursor: str | None


def payment_view(payment: Payment) -> PaymentView:
    """The API's shape of a payment."""
    currency = payment.currency
    return PaymentView(
        **payment.model_dump(
            include={
                "id",
                "source",
                "source_reference",
                "method",
                "status",
                "paid_on",
                "kid",
                "customer_id",
                "legal_entity_id",
                "invoice_id",
                "became_paid",
                "file_id",
                "payer_account",
                "text",
                "received_at",
            }
        ),
        suspense_reason=payment.suspense_reason.value if payment.suspense_reason else None,
        amount=_money(payment.amount, currency),
        allocations=[
            AllocationView(invoice_id=a.invoice_id, amount=_money(a.amount, currency))
            for a in payment.allocations
        ],
        to_credit=_money(payment.to_credit, currency),
        refunded=_money(payment.refunded, currency),
    )


@router.route(
    "GET",
    "/v1/payments",
    summary="Incoming payments in a period, with totals",
    query=PaymentsQuery,
    response=PaymentList,
)
def list_payments(call: Call) -> PaymentList:
    """Payments by the day they were paid, oldest first; totals cover every page."""
    query = call.query(PaymentsQuery)
    report = call.services.ledger_reports.payments(
        query.from_, query.to, query.method, query.status, query.limit, query.cursor
    )
    return PaymentList(
        items=[payment_view(p) for p in report.items],
        totals=[TotalView(count=t.count, amount=_money(t.amount, t.currency)) for t in report.totals],
        next_cursor=report.next_cursor,
    )


@router.route("GET", "/v1/payments/{id}", summary="Read a payment", response=PaymentView, problems=(404,))
def get_payment(call: Call) -> PaymentView:
    """One payment."""
    return payment_view(call.services.ledger.payment(call.path["id"]))


# ---- suspense -----------------------------------------------------------------------------------------


class SuspenseQuery(QueryModel):
    """Which suspense items."""

    status: SuspenseStatus = SuspenseStatus.OPEN
    limit: Limit = 50
    cursor: Cursor = None


class SuspenseView(ResponseModel):
    """A payment parked in suspense, and where it was assigned."""

    id: str
    payment_id: str | None
    amount: MoneyModel
    reason: str
    kid: str | None
    paid_on: date
    status: SuspenseStatus
    from_customer_id: str | None
    assigned_customer_id: str | None
    assigned_legal_entity_id: str | None
    assigned_invoice_id: str | None
    assigned_at: datetime | None
    created_at: datetime


class SuspenseList(ResponseModel):
    """A page of suspense items."""

    items: list[SuspenseView]
    next_cursor: str | None


class SuspenseAssign(RequestModel):
    """Where the money goes: an invoice, or a customer (its open invoices oldest first, then credit)."""

    invoice_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    customer_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    legal_entity_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


def suspense_view(item: SuspenseItem) -> SuspenseView:
    """The API's shape of a suspense item."""
    return SuspenseView(
        **item.model_dump(
            include={
                "id",
                "payment_id",
                "kid",
                "paid_on",
                "status",
                "from_customer_id",
                "assigned_customer_id",
                "assigned_legal_entity_id",
                "assigned_invoice_id",
                "assigned_at",
                "created_at",
            }
        ),
        amount=_money(item.amount, item.currency),
        reason=str(item.reason),
    )


@router.route(
    "GET", "/v1/suspense", summary="Payments in suspense", query=SuspenseQuery, response=SuspenseList
)
def list_suspense(call: Call) -> SuspenseList:
    """Open (default) or assigned suspense items, oldest payment first."""
    query = call.query(SuspenseQuery)
    page = call.services.ledger.suspense_items(query.status, query.limit, query.cursor)
    return SuspenseList(items=[suspense_view(i) for i in page.items], next_cursor=page.next_cursor)


@router.route(
    "POST",
    "/v1/suspense/{id}/assign",
    summary="Assign a payment in suspense to an invoice or a customer",
    body=SuspenseAssign,
    response=SuspenseView,
    idempotent=True,
    problems=(404, 409),
)
def assign_suspense(call: Call) -> SuspenseView:
    """Idempotent: assigning again to the same place returns the same result; elsewhere is 409."""
    body = call.body(SuspenseAssign)
    if (body.invoice_id is None) == (body.customer_id is None):
        raise ValidationFailedError(
            "name exactly one of invoice_id and customer_id",
            [FieldError("invoice_id", "exactly one of invoice_id and customer_id", "one_of")],
        )
    item = call.services.assign_suspense.assign(
        call.path["id"],
        invoice_id=body.invoice_id,
        customer_id=body.customer_id,
        legal_entity_id=body.legal_entity_id,
    )
    return suspense_view(item)
