"""Ledger routes (admin): customer ledgers, incoming payments, suspense, payment files, ledger settings,
and invoice PDFs."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StrictInt

from chalicelib.api.routing import Call, Reply, Router
from chalicelib.api.schemas import MoneyModel, QueryModel, RequestModel, ResponseModel
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.ledger.models import (
    Account,
    EntryKind,
    FileStatus,
    IncomingMethod,
    LedgerEntry,
    LedgerSettings,
    OverpaymentRule,
    Payment,
    PaymentStatus,
    SuspenseItem,
    SuspenseStatus,
)
from chalicelib.money import Currency, Money

if TYPE_CHECKING:
    from chalicelib.ledger.imports import FileReport

router = Router("ledger", tag="ledger")

PDF_MEDIA_TYPE = "application/pdf"
Limit = Annotated[int, Field(default=50, ge=1, le=100)]
Cursor = Annotated[str | None, Field(default=None, max_length=2000)]


def _money(amount: int, currency: Currency) -> MoneyModel:
    return MoneyModel.of(Money(amount, currency))


# ---- customer ledger -----------------------------------------------------------------------------------


class LedgerQuery(QueryModel):
    """Which account and which page of entries."""

    legal_entity_id: str | None = Field(default=None, max_length=64)
    currency: Currency | None = None
    limit: Limit = 50
    cursor: Cursor = None


class OpenItemView(ResponseModel):
    """An invoice with money still open."""

    invoice_id: str
    number: int | None
    due_date: date
    charged: MoneyModel
    paid: MoneyModel
    credited: MoneyModel
    written_off: MoneyModel
    open: MoneyModel


class EntryView(ResponseModel):
    """One ledger entry."""

    seq: int
    kind: EntryKind
    amount: MoneyModel
    balance_change: MoneyModel
    balance_after: MoneyModel
    invoice_id: str | None
    payment_id: str | None
    document_id: str | None
    text: str | None
    booked_on: date
    at: datetime


class AccountSummary(ResponseModel):
    """One of the customer's accounts (per seller and currency)."""

    legal_entity_id: str
    balance: MoneyModel


class LedgerResponse(ResponseModel):
    """A customer's balance (positive: owes; negative: holds credit), open items and entries."""

    customer_id: str
    legal_entity_id: str | None
    balance: MoneyModel
    credit: MoneyModel
    open_items: list[OpenItemView]
    accounts: list[AccountSummary]
    entries: list[EntryView]
    next_cursor: str | None


def _entry_view(entry: LedgerEntry) -> EntryView:
    currency = entry.currency
    return EntryView(
        seq=entry.seq,
        kind=entry.kind,
        amount=_money(entry.amount, currency),
        balance_change=_money(entry.balance_change, currency),
        balance_after=_money(entry.balance_after, currency),
        invoice_id=entry.invoice_id,
        payment_id=entry.payment_id,
        document_id=entry.document_id,
        text=entry.text,
        booked_on=entry.booked_on,
        at=entry.at,
    )


def _open_items(account: Account) -> list[OpenItemView]:
    currency = account.currency
    items = sorted(account.open.values(), key=lambda i: (i.due_date, i.number or 0, i.invoice_id))
    return [
        OpenItemView(
            invoice_id=i.invoice_id,
            number=i.number,
            due_date=i.due_date,
            charged=_money(i.charged, currency),
            paid=_money(i.paid, currency),
            credited=_money(i.credited, currency),
            written_off=_money(i.written_off, currency),
            open=_money(i.open, currency),
        )
        for i in items
    ]


@router.route(
    "GET",
    "/v1/customers/{id}/ledger",
    summary="A customer's balance, open items and ledger entries",
    query=LedgerQuery,
    response=LedgerResponse,
    problems=(404,),
)
def get_customer_ledger(call: Call) -> LedgerResponse:
    """One account of the customer (the first, or the one named) and a page of its entries."""
    query = call.query(LedgerQuery)
    view = call.services.ledger.ledger(
        call.path["id"], query.legal_entity_id, query.currency, query.limit, query.cursor
    )
    account = view.account
    return LedgerResponse(
        customer_id=call.path["id"],
        legal_entity_id=account.legal_entity_id or None,
        balance=_money(account.balance, account.currency),
        credit=_money(account.credit, account.currency),
        open_items=_open_items(account),
        accounts=[
            AccountSummary(legal_entity_id=a.legal_entity_id, balance=_money(a.balance, a.currency))
            for a in view.accounts
        ],
        entries=[_entry_view(e) for e in view.entries],
        next_cursor=view.next_cursor,
    )


# ---- payments -----------------------------------------------------------------------------------------


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
    report = call.services.ledger.payments(
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
    item = call.services.ledger.assign_suspense(
        call.path["id"],
        invoice_id=body.invoice_id,
        customer_id=body.customer_id,
        legal_entity_id=body.legal_entity_id,
    )
    return suspense_view(item)


# ---- payment files ------------------------------------------------------------------------------------


class ListQuery(QueryModel):
    """Pagination."""

    limit: Limit = 50
    cursor: Cursor = None


class TallyView(ResponseModel):
    """Count and sum of transactions with one outcome."""

    count: int
    amount: MoneyModel


class ArrivalView(ResponseModel):
    """One drop of the file in the bucket."""

    bucket: str
    key: str
    received_at: datetime
    duplicate: bool


class ReasonView(ResponseModel):
    """Why a file was rejected, or one of its transactions left out (``line``: where)."""

    code: str
    message: str
    line: int | None


class PaymentFileView(ResponseModel):
    """A payment file's import report. Outcomes: received, matched, applied, credit, refunded, suspense,
    suspense:<reason>, reversals, paid_invoices (count of invoices the file settled), rejected (transactions
    left out: their reasons are in ``rejected_reasons``)."""

    id: str
    format: str
    status: FileStatus
    size: int
    transmission_number: str | None
    nets_date: date | None
    transactions: int
    total: MoneyModel
    outcomes: dict[str, TallyView]
    duplicates: int
    arrivals: list[ArrivalView]
    rejected_reasons: list[ReasonView]
    created_at: datetime
    finished_at: datetime | None


class PaymentFileList(ResponseModel):
    """A page of payment files."""

    items: list[PaymentFileView]
    next_cursor: str | None


def payment_file_view(report: FileReport) -> PaymentFileView:
    """The API's shape of a payment file's report."""
    file = report.file
    return PaymentFileView(
        id=file.id,
        format=file.format,
        status=file.status,
        size=file.size,
        transmission_number=file.transmission_number,
        nets_date=file.nets_date,
        transactions=file.transactions,
        total=_money(file.total_amount, Currency.NOK),
        outcomes={
            name: TallyView(count=t.count, amount=_money(t.amount, Currency.NOK))
            for name, t in sorted(report.tallies.items())
        },
        duplicates=report.duplicates,
        arrivals=[
            ArrivalView(bucket=a.bucket, key=a.key, received_at=a.received_at, duplicate=a.duplicate)
            for a in file.arrivals
        ],
        rejected_reasons=[ReasonView(code=r.code, message=r.message, line=r.line) for r in file.reasons],
        created_at=file.created_at,
        finished_at=file.finished_at,
    )


@router.route(
    "GET",
    "/v1/payment-files",
    summary="Imported payment files and their reports",
    query=ListQuery,
    response=PaymentFileList,
)
def list_payment_files(call: Call) -> PaymentFileList:
    """Payment files, oldest first."""
    query = call.query(ListQuery)
    page = call.services.ocr_imports.reports(query.limit, query.cursor)
    return PaymentFileList(items=[payment_file_view(r) for r in page.items], next_cursor=page.next_cursor)


@router.route(
    "GET",
    "/v1/payment-files/{id}",
    summary="A payment file's import report",
    response=PaymentFileView,
    problems=(404,),
)
def get_payment_file(call: Call) -> PaymentFileView:
    """One file's report: counts, sums, matched, to suspense, rejected with reasons."""
    return payment_file_view(call.services.ocr_imports.report(call.path["id"]))


# ---- ledger settings ----------------------------------------------------------------------------------


class LedgerSettingsIn(RequestModel):
    """A seller's ledger rules (docs/ledger.md)."""

    tolerance_amount: Annotated[StrictInt, Field(ge=0, le=100_000)] = 0
    tolerance_basis_points: Annotated[StrictInt, Field(ge=0, le=1_000)] = 0
    overpayment: OverpaymentRule = OverpaymentRule.CREDIT
    excess_to_open_items: bool = True
    apply_credit_to_new_invoices: bool = True


@router.route(
    "GET",
    "/v1/legal-entities/{id}/ledger-settings",
    summary="A seller's ledger rules",
    response=LedgerSettings,
    problems=(404,),
)
def get_ledger_settings(call: Call) -> LedgerSettings:
    """The seller's rules (the defaults until set)."""
    return call.services.ledger.settings(call.path["id"])


@router.route(
    "PUT",
    "/v1/legal-entities/{id}/ledger-settings",
    summary="Set a seller's ledger rules",
    body=LedgerSettingsIn,
    response=LedgerSettings,
    problems=(404,),
)
def put_ledger_settings(call: Call) -> LedgerSettings:
    """Replace the seller's rules; postings from now on follow them."""
    body = call.body(LedgerSettingsIn)
    settings = LedgerSettings.model_validate(body.model_dump())
    return call.services.ledger.set_settings(call.path["id"], settings)


# ---- invoice documents --------------------------------------------------------------------------------


@router.route(
    "GET",
    "/v1/invoices/{id}/pdf",
    summary="An invoice or credit note as PDF, in the customer's language",
    response_media_type=PDF_MEDIA_TYPE,
    problems=(404, 409),
)
def get_invoice_pdf(call: Call) -> Reply:
    """The stored PDF; rendered and stored on the first request."""
    document = call.services.invoice_documents.pdf(call.path["id"])
    return Reply(
        body=document.data,
        media_type=PDF_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{document.filename}"'},
    )
