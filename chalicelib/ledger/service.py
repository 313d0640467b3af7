"""The ledger service: the seam billing calls when it issues invoices and credit notes, the ledger's own
settings, and incoming payments applied to their invoices (or put in suspense). Rules live in
:mod:`chalicelib.ledger.rules`; this module reads what they need and writes what they return, one
transaction per event, with the events of that change (``payment.received``, ``invoice.paid``,
``payment.refunded``) in the same transaction. Assigning suspense and refunding credit are flows
(:mod:`chalicelib.flows.assign_suspense`, :mod:`chalicelib.flows.refund_credit`); the reports are
:mod:`chalicelib.ledger.reports`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.clock import Clock
from chalicelib.errors import NotFoundError, UnavailableError
from chalicelib.ledger import rules
from chalicelib.ledger.models import (
    LedgerSettings,
    Payment,
    PaymentStatus,
    SuspenseItem,
    SuspenseReason,
    SuspenseStatus,
)
from chalicelib.ledger.payment_items import day_total, onboard, payment_item, suspense_item
from chalicelib.ledger.posting import (
    Book,
    LedgerWrites,
    PaidHook,
    StoredAccount,
    Update,
    changed_invoice,
    invoice_facts,
    invoice_paid_event,
    payment_received_event,
    payment_refunded_event,
    posting_writes,
    stable_id,
)
from chalicelib.ledger.recording import (
    HeldWriteConflictError,
    IncomingPayment,
    PlannedPayment,
    RecordedPayment,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, Page, WriteConflictError, document_item
from chalicelib.store.transaction import TRANSACTION_RETRIES

ATTEMPTS = TRANSACTION_RETRIES.attempts


def backoff(attempt: int) -> None:
    """Wait before retry ``attempt`` + 1 of a transaction that met a concurrent change (the one policy,
    :data:`~chalicelib.store.transaction.TRANSACTION_RETRIES`; new loops use its ``tries()``)."""
    TRANSACTION_RETRIES.sleep(TRANSACTION_RETRIES.delay(attempt))


class LedgerService:
    """Keeps every customer's ledger."""

    def __init__(
        self,
        store: DocumentStore,
        clock: Clock,
        paid_hooks: Sequence[PaidHook] = (),
    ) -> None:
        self._store = store
        self._clock = clock
        self.paid_hooks: list[PaidHook] = list(paid_hooks)

    def book(self) -> Book:
        """A fresh read cache."""
        return Book(self._store)

    # ---- settings ------------------------------------------------------------------------------------

    def settings(self, legal_entity_id: str) -> LedgerSettings:
        """A seller's ledger rules (defaults until set)."""
        self._entity_exists(legal_entity_id)
        return self.book().ledger_settings(legal_entity_id)

    def set_settings(self, legal_entity_id: str, settings: LedgerSettings) -> LedgerSettings:
        """Replace a seller's ledger rules; they apply to postings from now on."""
        self._entity_exists(legal_entity_id)
        key = keys.ledger_settings(legal_entity_id)
        item = document_item("ledger_settings", key, settings)
        current = self._store.get(key.pk, key.sk)
        if current is None:
            self._store.write([item], [])
        else:
            self._store.write([], [(item, int(current.version))])
        return settings

    def _entity_exists(self, legal_entity_id: str) -> None:
        key = keys.legal_entity(legal_entity_id)
        if self._store.get(key.pk, key.sk) is None:
            raise NotFoundError(f"no legal entity {legal_entity_id}")

    # ---- the seam with billing -----------------------------------------------------------------------

    def invoice_issued_writes(self, invoice: Invoice, *, book: Book | None = None) -> LedgerWrites:
        """The ledger's part of the transaction that issues ``invoice``: the entry, the open item and the
        account (created on the customer's first invoice). Customer credit pays the invoice at once (if
        the seller's settings say so): store ``writes.invoice``, which carries the open amount and
        status after that, instead of the invoice you passed in. Reads one account (and the settings)."""
        if invoice.kind != InvoiceKind.INVOICE or invoice.number is None:
            raise ValueError("only a numbered invoice is issued to the ledger")
        now = self._clock.now()
        book = book or self.book()
        stored = book.account(invoice.customer_id, invoice.legal_entity_id, invoice.currency.value)
        settings = book.ledger_settings(invoice.legal_entity_id)
        posting = rules.issue_invoice(stored.account, invoice_facts(invoice), settings, now)
        writes = posting_writes(stored, posting, {}, invoice.invoice_date, now)
        change = posting.invoices.get(invoice.id)
        writes.invoice = changed_invoice(invoice, change) if change else invoice
        if writes.invoice.status == InvoiceStatus.PAID:
            writes.became_paid.append(invoice.id)
            # Paid by the customer's credit as it is issued: the issuing transaction records it.
            writes.events.append(invoice_paid_event(writes.invoice, invoice.invoice_date, now))
        self._hooks(writes, {invoice.id: writes.invoice})
        return writes

    def credit_note_writes(self, credit_note: Invoice, *, book: Book | None = None) -> LedgerWrites:
        """The ledger's part of the transaction that issues a credit note: the entry, the credited
        invoice's open item, and what was already paid beyond what is left becomes credit (or a refund).
        These writes replace the credited invoice's document (open amount, status ``credited`` when fully
        credited): do not write that item yourself. Store ``writes.invoice`` (the credit note, open 0)."""
        if credit_note.kind != InvoiceKind.CREDIT_NOTE or not credit_note.credited_invoice_id:
            raise ValueError("a credit note names the invoice it credits")
        now = self._clock.now()
        book = book or self.book()
        credited_item = book.invoice_item(credit_note.credited_invoice_id)
        if credited_item is None or credited_item.doc is None:
            raise NotFoundError(f"no invoice {credit_note.credited_invoice_id}")
        credited = credited_item.document(Invoice)
        stored = book.account(credited.customer_id, credited.legal_entity_id, credited.currency.value)
        settings = book.ledger_settings(credited.legal_entity_id)
        onboarded = onboard(stored.account, credited, settings, now)
        posting = rules.credit_invoice(
            onboarded.account if onboarded else stored.account,
            invoice_facts(credited),
            abs(credit_note.totals.gross),
            credit_note.id,
            settings,
            now,
        )
        posting = rules.then(onboarded, posting) if onboarded else posting
        book.prefetch_invoices(posting.invoices)
        items = {i: item for i in posting.invoices if (item := book.invoice_item(i)) is not None}
        writes = posting_writes(stored, posting, items, credit_note.invoice_date, now)
        writes.invoice = credit_note.model_copy(update={"open_amount": 0})
        self.paid_writes(writes, items, posting)
        return writes

    def paid_writes(
        self, writes: LedgerWrites, items: dict[str, DocumentItem], posting: rules.Posting
    ) -> None:
        """Add to ``writes`` what the paid hooks write for the invoices the posting pays (``items`` are
        those invoices as read)."""
        self._hooks(
            writes,
            {
                i: changed_invoice(item.document(Invoice), posting.invoices[i])
                for i, item in items.items()
                if item.doc is not None and i in posting.invoices
            },
        )

    def _hooks(self, writes: LedgerWrites, invoices: dict[str, Invoice]) -> None:
        paid = [invoices[i] for i in writes.became_paid if i in invoices]
        if not paid:
            return
        for hook in self.paid_hooks:
            writes.extend(hook(paid))

    # ---- payments ------------------------------------------------------------------------------------

    def plan_payment(self, incoming: IncomingPayment, book: Book, now: datetime) -> PlannedPayment:
        """Decide where a payment goes and build the transaction that records it (nothing is written)."""
        reason, invoice_item = self._target(incoming, book)
        if reason is not None or invoice_item is None:
            return self._to_suspense(incoming, reason or SuspenseReason.UNKNOWN_KID, now)
        invoice = invoice_item.document(Invoice)
        owner = (invoice.customer_id, invoice.legal_entity_id, invoice.currency.value)
        stored = book.account(*owner)
        settings = book.ledger_settings(invoice.legal_entity_id)
        onboarded = onboard(stored.account, invoice, settings, now)
        posting = rules.apply_payment(
            onboarded.account if onboarded else stored.account,
            incoming.amount,
            incoming.payment_id,
            settings,
            now,
            invoice_facts(invoice),
        )
        posting = rules.then(onboarded, posting) if onboarded else posting
        book.prefetch_invoices(posting.invoices)
        items = {i: item for i in posting.invoices if (item := book.invoice_item(i)) is not None}
        writes = posting_writes(stored, posting, items, incoming.paid_on, now)
        self.paid_writes(writes, items, posting)
        payment = Payment(
            id=incoming.payment_id,
            source=incoming.source,
            source_reference=incoming.source_reference,
            method=incoming.method,
            status=PaymentStatus.MATCHED,
            amount=incoming.amount,
            currency=incoming.currency,
            paid_on=incoming.paid_on,
            kid=incoming.kid,
            customer_id=invoice.customer_id,
            legal_entity_id=invoice.legal_entity_id,
            invoice_id=invoice.id,
            allocations=list(posting.allocations),
            to_credit=posting.to_credit,
            refunded=posting.refunded,
            became_paid=list(writes.became_paid),
            file_id=incoming.file_id,
            payer_account=incoming.payer_account,
            text=incoming.text,
            received_at=now,
        )
        writes.creates.insert(0, payment_item(payment))
        writes.updates.append(day_total(payment, 1))
        writes.events.insert(0, payment_received_event(payment, now))
        if posting.refunded:
            # The seller's rule pays an overpayment back rather than keeping it as credit.
            writes.events.append(
                payment_refunded_event(payment.id, owner, posting.refunded, payment.method.value, now)
            )
        return PlannedPayment(payment, writes, owner, list(items))

    def _target(
        self, incoming: IncomingPayment, book: Book
    ) -> tuple[SuspenseReason | None, DocumentItem | None]:
        if not incoming.kid:
            return SuspenseReason.MISSING_KID, None
        if not incoming.kid_valid:
            return SuspenseReason.INVALID_KID, None
        item = book.invoice_by_kid(incoming.kid)
        if item is None or item.doc is None:
            return SuspenseReason.UNKNOWN_KID, None
        invoice = item.document(Invoice)
        if invoice.currency != incoming.currency:
            return SuspenseReason.CURRENCY, None
        if invoice.status == InvoiceStatus.DRAFT or invoice.kind != InvoiceKind.INVOICE:
            return SuspenseReason.NOT_PAYABLE, None
        return None, item

    def _to_suspense(
        self, incoming: IncomingPayment, reason: SuspenseReason, now: datetime
    ) -> PlannedPayment:
        payment = Payment(
            id=incoming.payment_id,
            source=incoming.source,
            source_reference=incoming.source_reference,
            method=incoming.method,
            status=PaymentStatus.SUSPENSE,
            amount=incoming.amount,
            currency=incoming.currency,
            paid_on=incoming.paid_on,
            kid=incoming.kid,
            suspense_reason=reason,
            file_id=incoming.file_id,
            payer_account=incoming.payer_account,
            text=incoming.text,
            received_at=now,
        )
        suspense = SuspenseItem(
            id=stable_id("sus", payment.id),
            payment_id=payment.id,
            amount=payment.amount,
            currency=payment.currency,
            reason=reason,
            kid=payment.kid,
            paid_on=payment.paid_on,
            created_at=now,
        )
        writes = LedgerWrites(
            creates=[payment_item(payment), suspense_item(suspense)],
            events=[payment_received_event(payment, now)],
        )
        writes.updates.append(day_total(payment, 1))
        return PlannedPayment(payment, writes)

    def commit(
        self,
        planned: PlannedPayment,
        book: Book,
        extra: Sequence[Update] = (),
        also: Sequence[tuple[DocumentItem, int]] = (),
    ) -> bool:
        """Write a planned payment and its events in one transaction, with the caller's own replaces
        (``also``: what the payment settles, at the versions the caller read); False if it had been
        recorded before (then nothing is written: its events were recorded with it the first time). A
        conflict on ``also`` is a :class:`HeldWriteConflictError` (the caller re-reads; replanning
        cannot help)."""
        writes = planned.writes
        try:
            self._store.write(
                writes.creates,
                [*writes.replaces, *also],
                updates=[*writes.updates, *extra],
                events=writes.events,
            )
        except WriteConflictError as error:
            if 0 in error.failed:
                return False
            if planned.owner is not None:
                book.forget(planned.owner, planned.invoice_ids)
            first = len(writes.creates) + len(writes.replaces)
            if any(first <= position < first + len(also) for position in error.failed):
                raise HeldWriteConflictError(str(error), error.failed) from error
            raise
        book.remember(writes)
        return True

    def record_payment(
        self,
        incoming: IncomingPayment,
        *,
        book: Book | None = None,
        extra: Sequence[Update] = (),
        also: Sequence[tuple[DocumentItem, int]] = (),
    ) -> RecordedPayment:
        """Record one payment (idempotent by its source's reference), in the same transaction as the
        caller's ``also`` replaces; a conflict on those is the caller's (:class:`HeldWriteConflictError`)."""
        book = book or self.book()
        for _ in TRANSACTION_RETRIES.tries():
            now = self._clock.now()
            planned = self.plan_payment(incoming, book, now)
            try:
                if self.commit(planned, book, extra, also):
                    return RecordedPayment(planned.payment, False, planned.payment.became_paid)
            except HeldWriteConflictError:
                raise
            except WriteConflictError:
                continue
            stored = self.payment(incoming.payment_id)
            return RecordedPayment(stored, True, [])
        raise UnavailableError("the customer's account kept changing; try again")

    def payment(self, payment_id: str) -> Payment:
        """One payment, or 404."""
        found = self._store.get_document(keys.payment(payment_id).pk, "PAYMENT", Payment)
        if found is None:
            raise NotFoundError(f"no payment {payment_id}")
        return found

    def recorded(self, payment_ids: Sequence[str]) -> set[str]:
        """Which of these payments exist (batched)."""
        found = self._store.batch_get((keys.payment(i).pk, "PAYMENT") for i in payment_ids)
        return {pk.removeprefix(keys.payment("").pk) for pk, _ in found}

    # ---- suspense ------------------------------------------------------------------------------------

    def suspense_items(self, status: SuspenseStatus, limit: int, cursor: str | None) -> Page[SuspenseItem]:
        """Suspense items of one status, oldest payment first."""
        return self._store.page(f"SUSPENSE#{status.value}", SuspenseItem, limit, cursor)


__all__ = [
    "IncomingPayment",
    "LedgerService",
    "PlannedPayment",
    "RecordedPayment",
    "StoredAccount",
]
