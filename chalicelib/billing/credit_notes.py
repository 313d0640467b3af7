"""Credit notes: a numbered document in the invoice series that cancels all of an invoice, or some of its
lines, and references it. Never an edit of the invoice.

Each credit note leaves a marker under the invoice (``CREDIT#<id>``), so a second credit note can never
credit more than the invoice: the markers are read with the invoice and the total is checked first.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import date, datetime

from pydantic import Field

from chalicelib.billing.issuing import ToIssue, invoice_series, issuing_writes
from chalicelib.billing.kid import customer_number_in
from chalicelib.billing.lines import totals_of, vat_summary_of
from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineKind
from chalicelib.catalog.models import LegalEntity
from chalicelib.clock import Clock
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    UnavailableError,
    ValidationFailedError,
)
from chalicelib.ids import new_id
from chalicelib.ledger.service import LedgerService
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore, Keys, WriteConflictError, document_item
from chalicelib.values import Document

CREDITABLE = (InvoiceStatus.ISSUED, InvoiceStatus.PAID)
ATTEMPTS = 20


def credited_lines(invoice: Invoice, line_numbers: Sequence[int] | None) -> list[InvoiceLine]:
    """The invoice's lines negated: all of them, or those numbered (1 is the first line)."""
    if line_numbers is None:
        chosen = list(invoice.lines)
    else:
        wrong = [n for n in line_numbers if not 1 <= n <= len(invoice.lines)]
        if wrong or len(set(line_numbers)) != len(line_numbers):
            raise ValidationFailedError(
                f"the invoice has lines 1 to {len(invoice.lines)}, each named once",
                [FieldError("lines", f"not a line of the invoice: {wrong or 'duplicate'}", "unknown_line")],
            )
        chosen = [invoice.lines[n - 1] for n in line_numbers]
    return [
        line.model_copy(
            update={
                "kind": LineKind.CREDIT,
                "text": line.text,
                "unit_price": -line.unit_price,
                "net": -line.net,
                "vat": -line.vat,
                "gross": -line.gross,
                "reference": line.reference or line.product_id,
            }
        )
        for line in chosen
    ]


def build_credit_note(
    invoice: Invoice, lines: list[InvoiceLine], credit_note_id: str, today: date, now: datetime
) -> Invoice:
    """The credit note for ``lines`` of ``invoice`` (amounts negative); numbered in the invoice series
    when issued."""
    totals = totals_of(lines)
    return Invoice(
        id=credit_note_id,
        kind=InvoiceKind.CREDIT_NOTE,
        legal_entity_id=invoice.legal_entity_id,
        customer_id=invoice.customer_id,
        subscription_id=invoice.subscription_id,
        status=InvoiceStatus.ISSUED,
        currency=invoice.currency,
        language=invoice.language,
        payment_method=invoice.payment_method,
        invoice_date=today,
        due_date=today,
        period=invoice.period,
        lines=lines,
        totals=totals,
        vat_summary=vat_summary_of(lines),
        open_amount=0,
        credited_invoice_id=invoice.id,
        issued_at=now,
        created_at=now,
    )


class CreditMarker(Document):
    """Under an invoice: one credit note, the amount (minor units) it credited and, when it credited
    whole lines, their numbers (a line is credited in full once)."""

    credit_note_id: str
    amount: int
    line_numbers: list[int] = Field(default_factory=list)


def already_credited(markers: Sequence[CreditMarker], line_numbers: Sequence[int]) -> list[int]:
    """Which of ``line_numbers`` an earlier credit note credited in full. Pure."""
    credited = {number for marker in markers for number in marker.line_numbers}
    return sorted(number for number in line_numbers if number in credited)


def _marker(invoice_id: str, credit_note_id: str) -> Keys:
    return Keys(keys.invoice(invoice_id).pk, f"CREDIT#{credit_note_id}")


class CreditNotes:
    """Issues credit notes."""

    def __init__(self, store: DocumentStore, ledger: LedgerService, clock: Clock) -> None:
        self._store = store
        self._ledger = ledger
        self._clock = clock

    def issue(
        self,
        invoice_id: str,
        line_numbers: Sequence[int] | None,
        *,
        lines: list[InvoiceLine] | None = None,
        credit_note_id: str | None = None,
    ) -> Invoice:
        """Credit all of ``invoice_id`` (or the numbered lines, or the given credit ``lines``); 409 if that
        would credit too much. With a ``credit_note_id`` the call is idempotent: if that credit note exists
        it is returned (a stop that crashed half-way is rerun without crediting twice)."""
        for attempt in range(ATTEMPTS):
            try:
                return self._attempt(invoice_id, line_numbers, lines, credit_note_id)
            except WriteConflictError:
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 4)))
        raise UnavailableError("the invoice series is busy; try again")

    def _attempt(
        self,
        invoice_id: str,
        line_numbers: Sequence[int] | None,
        given_lines: list[InvoiceLine] | None,
        credit_note_id: str | None,
    ) -> Invoice:
        if credit_note_id is not None:
            existing = self._store.get_document(keys.invoice(credit_note_id).pk, "INVOICE", Invoice)
            if existing is not None:
                return existing
        invoice = self._store.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
        if invoice is None:
            raise NotFoundError(f"no invoice {invoice_id}")
        if invoice.kind != InvoiceKind.INVOICE:
            raise ConflictError("a credit note cannot be credited")
        if invoice.status not in CREDITABLE:
            raise ConflictError(f"an invoice that is {invoice.status.value} cannot be credited")
        markers = self._store.query_partition(keys.invoice(invoice_id).pk, "CREDIT#", CreditMarker, 100, None)
        credited_before = sum(marker.amount for marker in markers.items)
        lines = given_lines if given_lines is not None else credited_lines(invoice, line_numbers)
        whole_lines: list[int] = []
        if given_lines is None:
            whole_lines = (
                list(line_numbers) if line_numbers is not None else list(range(1, len(invoice.lines) + 1))
            )
            twice = already_credited(markers.items, whole_lines)
            if twice:
                raise ConflictError(f"line {', '.join(map(str, twice))} of the invoice was credited already")
        amount = -sum(line.gross for line in lines)
        if credited_before + amount > invoice.totals.gross:
            raise ConflictError(
                f"that would credit {credited_before + amount} of an invoice of {invoice.totals.gross} "
                "(minor units)"
            )
        now = self._clock.now()
        entity = self._store.get_document(
            keys.legal_entity(invoice.legal_entity_id).pk, "ENTITY", LegalEntity
        )
        if entity is None:
            raise NotFoundError(f"legal entity {invoice.legal_entity_id} is gone")
        credit_note = build_credit_note(
            invoice, lines, credit_note_id or new_id("crn"), entity.business_date(now), now
        )
        # A credit note's KID carries the credited invoice's customer number (it is never paid to).
        customer_number = customer_number_in(invoice.kid) or 0
        issued = issuing_writes(invoice_series(entity), [ToIssue(credit_note, customer_number)], self._ledger)
        (stored,) = issued.documents
        marker = document_item(
            "credit_marker",
            _marker(invoice.id, stored.id),
            CreditMarker(credit_note_id=stored.id, amount=amount, line_numbers=whole_lines),
        )
        # A marker per credit note (created, never replaced) means two concurrent credit notes on one
        # invoice would both pass the check above; the ledger's replace of the credited invoice at its
        # version makes the second one fail and re-check.
        self._store.write(
            [*issued.creates, marker], issued.replaces, updates=issued.updates, events=issued.events
        )
        return stored
