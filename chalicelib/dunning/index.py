"""The overdue index: one dunning case per issued invoice, listed on gsi2 under the day of its next step.

The case item (``DUNNING#<invoice id>`` / ``CASE``) is both the invoice's dunning state and its entry in the
index, so the index is a to-do list by date: ``DUE#<day>#<shard>`` holds the invoices whose next dunning
action falls on ``day``. Billing creates the case in the transaction that issues the invoice
(:func:`overdue_index_writes`); the run moves it forward to the day of the next step after each step, and
takes it out of the index when the invoice is paid, credited, disputed, finished or handed over. A
handed-over case moves to ``HANDOFF#<day>#<shard>``, the partition its export file is written from.
"""

from __future__ import annotations

import zlib
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import Field

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.dunning.plans import StepKind
from chalicelib.money import Currency
from chalicelib.store.documents import DocumentItem, Keys, document_item
from chalicelib.store.due import DUNNING_RUN, due_entry
from chalicelib.values import Document, PaymentMethod

DUNNING_SHARDS = 16
CASE_KIND = "dunning_case"


class CaseStatus(StrEnum):
    """Where an invoice's dunning stands. Only ``active`` cases are in the overdue index."""

    ACTIVE = "active"
    CLOSED = "closed"
    DISPUTED = "disputed"
    HANDED_OVER = "handed_over"


class Letter(Document):
    """A reminder or debt collection notice: what it asked for and, once sent, how it went out."""

    key: str = Field(description="the step key, also the notification's message key")
    kind: StepKind
    sent_on: date
    amount: int = Field(description="what the letter asks for: the invoice's open amount and open fees")
    fee: int = 0
    deadline: date
    fee_invoice_id: str | None = None
    fee_invoice_number: int | None = None
    fee_kid: str | None = None
    delivery: str | None = Field(
        default=None,
        description="how the letter went out, as the notifications recorded it (filled when the case is "
        "read: ``queued`` until sent); stored only by letters sent before the notifications sent them",
    )


class DunningCase(Document):
    """One invoice's dunning: its plan (fixed at the first action), what was done and when, its letters."""

    invoice_id: str
    legal_entity_id: str
    customer_id: str
    currency: Currency
    due_date: date
    payment_method: PaymentMethod
    status: CaseStatus = CaseStatus.ACTIVE
    next_on: date | None = Field(default=None, description="the index day: when the run looks at it next")
    plan_id: str | None = None
    failed_charge_on: date | None = None
    failed_charge_reason: str | None = None
    done: dict[str, date] = Field(default_factory=dict, description="action key → the day it was taken")
    letters: list[Letter] = Field(default_factory=list)
    dispute_reason: str | None = None
    closed_reason: str | None = None
    handed_over_on: date | None = None
    handoff: dict[str, object] | None = Field(default=None, description="the claim as exported")
    created_at: datetime


def dunning_shard(invoice_id: str) -> int:
    """The shard of the overdue index an invoice is in (stable: CRC32 of its id)."""
    return zlib.crc32(invoice_id.encode()) % DUNNING_SHARDS


def due_partition(day: date, shard: int) -> str:
    """The overdue index partition of ``day`` and ``shard``."""
    return f"DUE#{day.isoformat()}#{shard:02d}"


def handoff_partition(day: date, shard: int) -> str:
    """The cases handed over on ``day`` in ``shard`` (what that day's export file holds)."""
    return f"HANDOFF#{day.isoformat()}#{shard:02d}"


def issued_partition(day: date, shard: int) -> str:
    """The invoices the invoice run issued on ``day`` in its renewal ``shard`` (on gsi1 of their fresh
    cases): what a redelivered work item enqueues again for the invoice-issued notifications."""
    return f"ISSUED#{day.isoformat()}#{shard:02d}"


def case_keys(case: DunningCase) -> Keys:
    """Where a case lives and which index entry it has."""
    shard = dunning_shard(case.invoice_id)
    gsi2: tuple[str, str] | None = None
    gsi3: tuple[str, str] | None = None
    if case.status is CaseStatus.ACTIVE and case.next_on is not None:
        gsi2 = (due_partition(case.next_on, shard), case.invoice_id)
        gsi3 = due_entry(DUNNING_RUN, case.next_on, shard, case.invoice_id)
    elif case.status is CaseStatus.HANDED_OVER and case.handed_over_on is not None:
        gsi2 = (handoff_partition(case.handed_over_on, shard), case.invoice_id)
    return Keys(f"DUNNING#{case.invoice_id}", "CASE", gsi2=gsi2, gsi3=gsi3)


def case_item(case: DunningCase, version: int = 1) -> DocumentItem:
    """The stored item of a case, in the index partition its status and next day put it."""
    return document_item(CASE_KIND, case_keys(case), case, status=case.status, version=version)


def first_index_day(invoice: Invoice) -> date:
    """The due date, but never on or before the day the invoice was issued: nothing is added to a day's
    partition on that day, so each day's partitions are complete when its run starts."""
    return max(invoice.due_date, invoice.invoice_date + timedelta(days=1))


def new_case(invoice: Invoice) -> DunningCase:
    """The case of a freshly issued invoice, due to be looked at on its due date."""
    return DunningCase(
        invoice_id=invoice.id,
        legal_entity_id=invoice.legal_entity_id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        due_date=invoice.due_date,
        payment_method=invoice.payment_method,
        next_on=first_index_day(invoice),
        created_at=invoice.issued_at or invoice.created_at,
    )


def overdue_index_writes(invoice: Invoice, issued_in: str | None = None) -> list[DocumentItem]:
    """The items to create in the transaction that issues ``invoice`` (append them to its creates): its
    dunning case, indexed under ``DUE#<due date>#<shard>``. Pass the invoice as stored (the ledger's
    ``writes.invoice``): one paid on issue by customer credit, a zero invoice, a draft or a credit note
    needs no dunning and gets nothing. Pure."""
    if invoice.kind != InvoiceKind.INVOICE or invoice.number is None:
        return []
    if invoice.status != InvoiceStatus.ISSUED or invoice.open_amount <= 0:
        return []
    item = case_item(new_case(invoice))
    if issued_in is not None:
        # Listed under the run's issued partition until the case's first move (which drops it).
        item.gsi1pk, item.gsi1sk = issued_in, invoice.id
    return [item]
