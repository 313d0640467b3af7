"""Issuing numbered documents: the one way an invoice, a reminder-fee document or a credit note is issued.

Every caller (an order's first invoice, the invoice run's renewals and final usage invoices, the
restatement after a change, pause or stop, a dunning step's fee document, a credit note) builds its
documents with their lines, reads the seller's series (:func:`invoice_series`) and asks
:func:`issuing_writes` for everything the documents need, then commits those writes in one transaction
together with its own (subscription, draft, fees, usage counters, dunning case, ...):

- the numbers, gapless in the seller's series: one counter claim for the whole batch;
- the KID: the seller's KID prefix, the customer number and the invoice number (see
  :mod:`chalicelib.billing.kid`), and for invoices the ``KID#<kid>`` lookup the bank's payments are
  matched by (credit notes carry a KID but are never paid, so they get no lookup);
- totals and the VAT summary, summed from the lines;
- the ledger's entry and open item (customer credit may pay an invoice at once: the document as the
  ledger leaves it is the one stored);
- the index entries its collection needs (:class:`Collection`): AvtaleGiro claim, card or Vipps charge,
  and the dunning case;
- the events: ``invoice.issued`` for each document, ``invoice.credited`` for the invoice a credit note
  credits (the ledger adds ``invoice.paid`` where customer credit pays an invoice at once).

The seller's KID prefix lives on its invoice-number counter: the first claim of a series without one
takes the next platform-wide prefix, and the counter's condition makes sure one prefix sticks. Prefixes
are never reused, so no two sellers' KIDs are equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.avtalegiro.claims import claim_index_writes
from chalicelib.billing.drafts import document_item_for
from chalicelib.billing.kid import make_invoice_kid
from chalicelib.billing.lines import totals_of, vat_summary_of
from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.models import LegalEntity
from chalicelib.dunning.index import overdue_index_writes
from chalicelib.events import Event, EventType, new_event
from chalicelib.ledger.posting import Book, LedgerWrites
from chalicelib.ledger.service import LedgerService
from chalicelib.payments.records import charge_index_writes
from chalicelib.store import keys
from chalicelib.store.counters import CounterReading, allocate_number, read_counter
from chalicelib.store.documents import DocumentItem, lookup_item

Update = tuple[Any, list[Any], Any]


class Collection(StrEnum):
    """How an issued invoice is collected, which decides its index entries."""

    # Renewals, restatements, final usage invoices: claimed (AvtaleGiro) or charged (card, Vipps) through
    # the indexes, and dunned on their own.
    INDEXED = "indexed"
    # An order's first invoice: the order's payment set-up collects it (never the charge or claim index,
    # which would collect it a second time); dunned on its own.
    ORDER_SETUP = "order_setup"
    # A reminder-fee document: asked for in the letters of the invoice it is a fee on, paid to that
    # invoice's KID; no index entry and no dunning case of its own.
    WITH_DUNNED_INVOICE = "with_dunned_invoice"


@dataclass(frozen=True)
class InvoiceSeries:
    """A seller's invoice-number series as read: the counter and the seller's KID prefix."""

    legal_entity_id: str
    counter: CounterReading
    kid_prefix: int

    def kid(self, customer_number: int, invoice_number: int) -> str:
        """The KID of ``invoice_number`` of ``customer_number`` in this seller's series; invoice number 0
        is the customer's own KID with this seller (an AvtaleGiro agreement's)."""
        return make_invoice_kid(self.kid_prefix, customer_number, invoice_number)


def invoice_series(entity: LegalEntity) -> InvoiceSeries:
    """Read a seller's series (one consistent read); a series without a KID prefix is given the next
    free one (one atomic update, once per seller), which the claim then stores on the counter."""
    counter = read_counter(keys.invoice_number_counter(entity.id), entity.invoice_number_start)
    prefix = counter.prefix
    if prefix is None:
        # A prefix taken by an attempt that then fails is simply never used: prefixes need no gaplessness.
        prefix = allocate_number(keys.kid_prefix_counter(), 1)
    return InvoiceSeries(entity.id, counter, prefix)


@dataclass(frozen=True)
class ToIssue:
    """One document to issue: built with its lines (number, KID and totals are filled in on issue)."""

    document: Invoice
    customer_number: int
    collection: Collection = Collection.INDEXED
    draft_version: int | None = None  # the version of the draft (same id) the document replaces in place


@dataclass
class IssuedWrites:
    """The documents as stored and every write they need; commit them with the caller's own writes, the
    counter claim first among the updates (``updates[0]``)."""

    documents: list[Invoice] = field(default_factory=list)
    creates: list[DocumentItem] = field(default_factory=list)
    replaces: list[tuple[DocumentItem, int]] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    became_paid: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def numbered(document: Invoice, series: InvoiceSeries, number: int, customer_number: int) -> Invoice:
    """``document`` issued as ``number`` of the series: its KID, and totals and VAT summary summed from its
    lines (an invoice is open for its gross; a credit note is never open)."""
    totals = totals_of(document.lines)
    return document.model_copy(
        update={
            "status": InvoiceStatus.ISSUED,
            "number": number,
            "kid": series.kid(customer_number, number),
            "totals": totals,
            "vat_summary": vat_summary_of(document.lines),
            "open_amount": totals.gross if document.kind == InvoiceKind.INVOICE else 0,
        }
    )


def issuing_writes(
    series: InvoiceSeries,
    documents: Sequence[ToIssue],
    ledger: LedgerService | None,
    *,
    book: Book | None = None,
    issued_in: str | None = None,
) -> IssuedWrites:
    """Number ``documents`` (all of the series' seller) in one claim and return every write that issues
    them: the documents, their KID lookups, index entries and ledger entries. ``issued_in`` lists the
    dunning cases under the invoice run's issued partition."""
    if any(to.document.legal_entity_id != series.legal_entity_id for to in documents):
        raise ValueError("a batch of documents is issued in its own seller's series")
    numbers, claim = series.counter.take(len(documents), prefix=series.kid_prefix)
    writes = IssuedWrites(updates=[claim])
    if ledger is not None:
        book = book or ledger.book()
        # One BatchGetItem for the batch's ledger accounts instead of a read per invoice.
        book.prefetch_accounts(
            (to.document.customer_id, to.document.legal_entity_id, to.document.currency.value)
            for to in documents
            if to.document.kind == InvoiceKind.INVOICE
        )
    for number, to in zip(numbers, documents, strict=True):
        document = numbered(to.document, series, number, to.customer_number)
        stored = _with_ledger(document, ledger, book, writes)
        writes.documents.append(stored)
        item = document_item_for(stored)
        if to.draft_version is not None:
            writes.replaces.append((item, to.draft_version))
        else:
            writes.creates.append(item)
        writes.creates.extend(_side_records(stored, to.collection, issued_in))
        writes.events.extend(issued_events(stored, to.collection))
    return writes


def issued_events(document: Invoice, collection: Collection) -> list[Event]:
    """``invoice.issued`` for an issued document, and ``invoice.credited`` for a credit note's invoice."""
    occurred_at = document.issued_at or document.created_at
    kind = (
        "credit_note"
        if document.kind == InvoiceKind.CREDIT_NOTE
        else "fee"
        if collection == Collection.WITH_DUNNED_INVOICE
        else "invoice"
    )
    total = {"amount": document.totals.gross, "currency": document.currency.value}
    events = [
        new_event(
            EventType.INVOICE_ISSUED,
            document.legal_entity_id,
            occurred_at,
            {
                "invoice_id": document.id,
                "number": document.number,
                "document_kind": kind,
                "customer_id": document.customer_id,
                "subscription_id": document.subscription_id,
                "total": total,
                "issue_date": document.invoice_date,
                "due_date": document.due_date if document.kind == InvoiceKind.INVOICE else None,
                "kid": document.kid,
                "payment_method": document.payment_method.value,
            },
        )
    ]
    if document.kind == InvoiceKind.CREDIT_NOTE and document.credited_invoice_id:
        events.append(
            new_event(
                EventType.INVOICE_CREDITED,
                document.legal_entity_id,
                occurred_at,
                {
                    "invoice_id": document.credited_invoice_id,
                    "credit_note_id": document.id,
                    "customer_id": document.customer_id,
                    "amount": total,
                },
            )
        )
    return events


def _with_ledger(
    document: Invoice, ledger: LedgerService | None, book: Book | None, writes: IssuedWrites
) -> Invoice:
    """The ledger's writes joined to ``writes``; the document as the ledger leaves it."""
    if ledger is None:
        return document
    posted: LedgerWrites = (
        ledger.invoice_issued_writes(document, book=book)
        if document.kind == InvoiceKind.INVOICE
        else ledger.credit_note_writes(document, book=book)
    )
    writes.creates.extend(posted.creates)
    writes.replaces.extend(posted.replaces)
    writes.updates.extend(posted.updates)
    writes.became_paid.extend(posted.became_paid)
    writes.events.extend(posted.events)
    return posted.invoice or document


def _side_records(stored: Invoice, collection: Collection, issued_in: str | None) -> list[DocumentItem]:
    """The KID lookup and the index entries of an issued document."""
    if stored.kind != InvoiceKind.INVOICE:
        return []
    assert stored.kid is not None
    records = [kid_lookup_item(stored)]
    if collection == Collection.INDEXED:
        records += [*claim_index_writes(stored), *charge_index_writes(stored)]
    if collection != Collection.WITH_DUNNED_INVOICE:
        records += overdue_index_writes(stored, issued_in)
    return records


def kid_lookup_item(invoice: Invoice) -> DocumentItem:
    """The ``KID#<kid>`` entry that finds an issued invoice by its KID (created, so a KID is never
    given twice)."""
    assert invoice.kid is not None
    return lookup_item(keys.kid_lookup(invoice.kid), keys.invoice(invoice.id))
