"""Ledger routes (admin): customer ledgers, ledger settings, and invoice PDFs. Incoming payments and
suspense are in :mod:`chalicelib.api.incoming_payments`, payment files in
:mod:`chalicelib.api.payment_files`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StrictInt

from chalicelib.api.paging import Cursor, Limit
from chalicelib.api.routing import Call, Reply, Router
from chalicelib.api.schemas import MoneyModel, QueryModel, RequestModel, ResponseModel
from chalicelib.ledger.models import Account, EntryKind, LedgerEntry, LedgerSettings, OverpaymentRule
from chalicelib.money import Currency, Money

router = Router("ledger", tag="ledger")

PDF_MEDIA_TYPE = "application/pdf"


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
    view = call.services.ledger_reports.ledger(
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
