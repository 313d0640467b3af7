"""The ledger service: the seam billing calls when it issues invoices and credit notes, incoming payments,
suspense, and the ledger, payments and suspense reports. Rules live in :mod:`chalicelib.ledger.rules`;
this module reads what they need and writes what they return, one transaction per event, with the events
of that change (``payment.received``, ``invoice.paid``, ``payment.refunded``) in the same transaction."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.zones import SellerZones
from chalicelib.clock import Clock
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    UnavailableError,
    ValidationFailedError,
)
from chalicelib.ledger import rules
from chalicelib.ledger.models import (
    Account,
    IncomingMethod,
    LedgerEntry,
    LedgerSettings,
    Payment,
    PaymentStatus,
    SuspenseItem,
    SuspenseReason,
    SuspenseStatus,
)
from chalicelib.ledger.posting import (
    Book,
    LedgerWrites,
    PaidHook,
    StoredAccount,
    TallyItem,
    Update,
    changed_invoice,
    invoice_facts,
    invoice_paid_event,
    payment_received_event,
    payment_refunded_event,
    posting_writes,
    stable_id,
    tally,
)
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import (
    MAX_PAGE,
    DocumentItem,
    DocumentStore,
    Page,
    WriteConflictError,
    decode_cursor,
    document_item,
    encode_cursor,
)
from chalicelib.store.transaction import TRANSACTION_RETRIES

ATTEMPTS = TRANSACTION_RETRIES.attempts


@dataclass(frozen=True)
class IncomingPayment:
    """Money a source (a bank file, a provider, the back office) reports as received."""

    source: str
    source_reference: str
    method: IncomingMethod
    amount: int
    currency: Currency
    paid_on: date
    kid: str | None
    kid_valid: bool
    payer_account: str | None = None
    text: str | None = None
    file_id: str | None = None

    @property
    def payment_id(self) -> str:
        """The payment's id: the same for every report of the same payment."""
        return stable_id("pay", self.source, self.source_reference)


@dataclass
class PlannedPayment:
    """A payment and the writes that record it; the payment item is the first create."""

    payment: Payment
    writes: LedgerWrites
    owner: tuple[str, str, str] | None = None
    invoice_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedPayment:
    """What recording a payment did; ``duplicate`` when it had been recorded before."""

    payment: Payment
    duplicate: bool
    became_paid: list[str]


@dataclass(frozen=True)
class LedgerView:
    """A customer's account with one seller in one currency, and a page of its entries."""

    account: Account
    accounts: list[Account]
    entries: list[LedgerEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class PaymentTotal:
    """Count and sum of payments in one currency."""

    currency: Currency
    count: int
    amount: int


@dataclass(frozen=True)
class PaymentsReport:
    """A page of payments and the totals of the whole selection."""

    items: list[Payment]
    totals: list[PaymentTotal]
    next_cursor: str | None


def _invalid(name: str, message: str, code: str = "invalid") -> ValidationFailedError:
    return ValidationFailedError(message, [FieldError(name, message, code)])


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
        zones: SellerZones | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._zones = zones or SellerZones(store)
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
            writes.events.append(invoice_paid_event(writes.invoice, invoice.invoice_date, now, "issued"))
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
        onboarded = _onboard(stored.account, credited, settings, now)
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
        self._hooks(writes, self._after(items, posting))
        return writes

    def _after(self, items: dict[str, DocumentItem], posting: rules.Posting) -> dict[str, Invoice]:
        return {
            i: changed_invoice(item.document(Invoice), posting.invoices[i])
            for i, item in items.items()
            if item.doc is not None and i in posting.invoices
        }

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
        onboarded = _onboard(stored.account, invoice, settings, now)
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
        self._hooks(writes, self._after(items, posting))
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
        writes.creates.insert(0, _payment_item(payment))
        writes.updates.append(_day_total(payment, 1))
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
            creates=[_payment_item(payment), _suspense_item(suspense)],
            events=[payment_received_event(payment, now)],
        )
        writes.updates.append(_day_total(payment, 1))
        return PlannedPayment(payment, writes)

    def commit(self, planned: PlannedPayment, book: Book, extra: Sequence[Update] = ()) -> bool:
        """Write a planned payment and its events in one transaction; False if it had been recorded
        before (then nothing is written: its events were recorded with it the first time)."""
        writes = planned.writes
        try:
            self._store.write(
                writes.creates, writes.replaces, updates=[*writes.updates, *extra], events=writes.events
            )
        except WriteConflictError as error:
            if 0 in error.failed:
                return False
            if planned.owner is not None:
                book.forget(planned.owner, planned.invoice_ids)
            raise
        book.remember(writes)
        return True

    def record_payment(
        self, incoming: IncomingPayment, *, book: Book | None = None, extra: Sequence[Update] = ()
    ) -> RecordedPayment:
        """Record one payment (idempotent by its source's reference)."""
        book = book or self.book()
        for _ in TRANSACTION_RETRIES.tries():
            now = self._clock.now()
            planned = self.plan_payment(incoming, book, now)
            try:
                if self.commit(planned, book, extra):
                    return RecordedPayment(planned.payment, False, planned.payment.became_paid)
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

    def assign_suspense(
        self,
        suspense_id: str,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        legal_entity_id: str | None = None,
    ) -> SuspenseItem:
        """Place a suspense item on a customer's ledger: on an invoice, or on the customer (its open items
        oldest first, the rest credit). Assigning again to the same place changes nothing."""
        if (invoice_id is None) == (customer_id is None):
            raise _invalid("invoice_id", "name exactly one of invoice_id and customer_id", "one_of")
        for _ in TRANSACTION_RETRIES.tries():
            try:
                return self._assign_once(suspense_id, invoice_id, customer_id, legal_entity_id)
            except WriteConflictError:
                continue
        raise UnavailableError("the suspense item or account kept changing; try again")

    def _assign_once(
        self, suspense_id: str, invoice_id: str | None, customer_id: str | None, legal_entity_id: str | None
    ) -> SuspenseItem:
        now = self._clock.now()
        key = keys.suspense(suspense_id)
        stored = self._store.get(key.pk, key.sk)
        if stored is None or stored.doc is None:
            raise NotFoundError(f"no suspense item {suspense_id}")
        item = stored.document(SuspenseItem)
        book = self.book()
        invoice = self._assign_invoice(book, item, invoice_id)
        owner = self._assign_owner(book, item, invoice, customer_id, legal_entity_id)
        if item.status == SuspenseStatus.ASSIGNED:
            same = (
                item.assigned_customer_id == owner[0]
                and item.assigned_legal_entity_id == owner[1]
                and item.assigned_invoice_id == invoice_id
            )
            if same:
                return item
            raise ConflictError(f"suspense item {suspense_id} is already assigned elsewhere")
        account = book.account(*owner)
        settings = book.ledger_settings(owner[1])
        payment_id = item.payment_id or item.id
        onboarded = _onboard(account.account, invoice, settings, now) if invoice else None
        posting = rules.apply_payment(
            onboarded.account if onboarded else account.account,
            item.amount,
            payment_id,
            settings,
            now,
            invoice_facts(invoice) if invoice else None,
            from_suspense=item.id,
        )
        posting = rules.then(onboarded, posting) if onboarded else posting
        book.prefetch_invoices(posting.invoices)
        items = {i: it for i in posting.invoices if (it := book.invoice_item(i)) is not None}
        booked_on = self._zones.business_date(now, account.account.legal_entity_id)
        writes = posting_writes(account, posting, items, booked_on, now)
        self._hooks(writes, self._after(items, posting))
        assigned = item.model_copy(
            update={
                "status": SuspenseStatus.ASSIGNED,
                "assigned_customer_id": owner[0],
                "assigned_legal_entity_id": owner[1],
                "assigned_invoice_id": invoice_id,
                "assigned_at": now,
            }
        )
        suspense_item = _suspense_item(assigned)
        suspense_item.version = int(stored.version)
        writes.replaces.append((suspense_item, int(stored.version)))
        if item.payment_id:
            self._assigned_payment(writes, item.payment_id, owner, invoice_id, posting, now)
        self._store.write(writes.creates, writes.replaces, updates=writes.updates, events=writes.events)
        return assigned

    def _assign_invoice(self, book: Book, item: SuspenseItem, invoice_id: str | None) -> Invoice | None:
        if invoice_id is None:
            return None
        stored = book.invoice_item(invoice_id)
        if stored is None or stored.doc is None:
            raise _invalid("invoice_id", f"no invoice {invoice_id}", "unknown")
        invoice = stored.document(Invoice)
        if invoice.kind != InvoiceKind.INVOICE or invoice.status == InvoiceStatus.DRAFT:
            raise _invalid("invoice_id", "only an issued invoice can be paid", "not_payable")
        if invoice.currency != item.currency:
            raise _invalid("invoice_id", f"the payment is in {item.currency}", "currency_mismatch")
        return invoice

    def _assign_owner(
        self,
        book: Book,
        item: SuspenseItem,
        invoice: Invoice | None,
        customer_id: str | None,
        legal_entity_id: str | None,
    ) -> tuple[str, str, str]:
        if invoice is not None:
            return invoice.customer_id, invoice.legal_entity_id, invoice.currency.value
        assert customer_id is not None
        if self._store.get(keys.customer(customer_id).pk, keys.customer(customer_id).sk) is None:
            raise _invalid("customer_id", f"no customer {customer_id}", "unknown")
        if legal_entity_id is None:
            sellers = [a.legal_entity_id for a in self.accounts(customer_id) if a.currency == item.currency]
            if len(sellers) != 1:
                raise _invalid(
                    "legal_entity_id", "name the seller whose ledger takes the payment", "ambiguous"
                )
            legal_entity_id = sellers[0]
        return customer_id, legal_entity_id, item.currency.value

    def _assigned_payment(
        self,
        writes: LedgerWrites,
        payment_id: str,
        owner: tuple[str, str, str],
        invoice_id: str | None,
        posting: rules.Posting,
        now: datetime,
    ) -> None:
        stored = self._store.get(keys.payment(payment_id).pk, "PAYMENT")
        if stored is None or stored.doc is None:
            return
        payment = stored.document(Payment)
        assigned = payment.model_copy(
            update={
                "status": PaymentStatus.ASSIGNED,
                "customer_id": owner[0],
                "legal_entity_id": owner[1],
                "invoice_id": invoice_id,
                "allocations": list(posting.allocations),
                "to_credit": posting.to_credit,
                "refunded": posting.refunded,
                "became_paid": list(writes.became_paid),
            }
        )
        item = _payment_item(assigned)
        item.version = int(stored.version)
        writes.replaces.append((item, int(stored.version)))
        writes.updates.extend([_day_total(payment, -1), _day_total(assigned, 1)])
        # Its arrival's event named no seller: the seller now learns of the money on its customer's ledger.
        writes.events.insert(0, payment_received_event(assigned, now, f"{payment_id}|assigned"))

    def move_to_suspense(
        self, customer_id: str, legal_entity_id: str, currency: Currency, amount: int, text: str
    ) -> SuspenseItem:
        """Take credit off a customer's account (it was someone else's) and park it in suspense."""
        for _ in TRANSACTION_RETRIES.tries():
            now = self._clock.now()
            book = self.book()
            stored = book.account(customer_id, legal_entity_id, currency.value)
            suspense = SuspenseItem(
                id=stable_id("sus", customer_id, str(stored.account.next_seq), str(now)),
                amount=amount,
                currency=currency,
                reason=text,
                paid_on=self._zones.business_date(now, legal_entity_id),
                from_customer_id=customer_id,
                created_at=now,
            )
            try:
                posting = rules.move_to_suspense(stored.account, amount, suspense.id, text, now)
            except rules.LedgerRuleError as error:
                raise _invalid("amount", str(error), "exceeds_credit") from None
            writes = posting_writes(stored, posting, {}, suspense.paid_on, now)
            try:
                self._store.write(
                    [*writes.creates, _suspense_item(suspense)], writes.replaces, events=writes.events
                )
            except WriteConflictError:
                continue
            return suspense
        raise UnavailableError("the customer's account kept changing; try again")

    def refund(self, customer_id: str, legal_entity_id: str, currency: Currency, amount: int) -> Account:
        """Pay back credit the customer holds (the payout itself is the back office's)."""
        for _ in TRANSACTION_RETRIES.tries():
            now = self._clock.now()
            stored = self.book().account(customer_id, legal_entity_id, currency.value)
            try:
                refund_id = stable_id("ref", str(now))
                posting = rules.refund_credit(stored.account, amount, refund_id, now)
            except rules.LedgerRuleError as error:
                raise _invalid("amount", str(error), "exceeds_credit") from None
            booked_on = self._zones.business_date(now, legal_entity_id)
            writes = posting_writes(stored, posting, {}, booked_on, now)
            refunded = payment_refunded_event(
                refund_id,
                (customer_id, legal_entity_id, currency.value),
                amount,
                IncomingMethod.MANUAL.value,
                now,
            )
            try:
                self._store.write(writes.creates, writes.replaces, events=[*writes.events, refunded])
            except WriteConflictError:
                continue
            return rules.advance(posting)
        raise UnavailableError("the customer's account kept changing; try again")

    # ---- reading -------------------------------------------------------------------------------------

    def accounts(self, customer_id: str) -> list[Account]:
        """Every account of a customer (one query)."""
        page = self._store.query(f"CUSTOMER#{customer_id}", keys.LEDGER_ACCOUNT_PREFIX, limit=MAX_PAGE)
        return [item.document(Account) for item in page.items if item.doc is not None]

    def ledger(
        self,
        customer_id: str,
        legal_entity_id: str | None,
        currency: Currency | None,
        limit: int,
        cursor: str | None,
    ) -> LedgerView:
        """A customer's balance, open items and a page of entries, oldest first."""
        if self._store.get(keys.customer(customer_id).pk, keys.customer(customer_id).sk) is None:
            raise NotFoundError(f"no customer {customer_id}")
        accounts = self.accounts(customer_id)
        chosen = [
            a
            for a in accounts
            if (legal_entity_id is None or a.legal_entity_id == legal_entity_id)
            and (currency is None or a.currency == currency)
        ]
        if not chosen:
            empty = Account(
                customer_id=customer_id,
                legal_entity_id=legal_entity_id or "",
                currency=currency or Currency.NOK,
            )
            return LedgerView(empty, accounts, [], None)
        account = chosen[0]
        page = self._store.query_partition(
            f"CUSTOMER#{customer_id}",
            keys.ledger_entries_prefix(account.legal_entity_id, account.currency.value),
            LedgerEntry,
            limit,
            cursor,
        )
        return LedgerView(account, accounts, page.items, page.next_cursor)

    def payments(
        self,
        start: date,
        end: date,
        method: IncomingMethod | None,
        status: PaymentStatus | None,
        limit: int,
        cursor: str | None,
    ) -> PaymentsReport:
        """Payments paid from ``start`` to ``end`` (inclusive), a page at a time, and the totals of the
        whole selection (from the per-day totals: one query per month)."""
        months = _months(start, end)
        month_index, inner = _decode_report_cursor(cursor, len(months))
        low, high = f"{start.isoformat()}#", f"{end.isoformat()}#~"
        items: list[Payment] = []
        next_cursor: str | None = None
        for index in range(month_index, len(months)):
            results = DocumentItem.gsi1.query(
                keys.payments_month(months[index]),
                DocumentItem.gsi1sk.between(low, high),
                last_evaluated_key=decode_cursor(inner, ("gsi1pk", "gsi1sk"))
                if index == month_index
                else None,
            )
            for item in results:
                if item.doc is None:
                    continue
                payment = item.document(Payment)
                if (method is None or payment.method == method) and (
                    status is None or payment.status == status
                ):
                    items.append(payment)
                if len(items) >= limit:
                    break
            if len(items) >= limit:
                last = encode_cursor(results.last_evaluated_key)
                if last is not None:
                    next_cursor = _encode_report_cursor(index, last)
                elif index + 1 < len(months):
                    next_cursor = _encode_report_cursor(index + 1, None)
                break
        return PaymentsReport(items, self._totals(months, low, high, method, status), next_cursor)

    def _totals(
        self,
        months: list[date],
        low: str,
        high: str,
        method: IncomingMethod | None,
        status: PaymentStatus | None,
    ) -> list[PaymentTotal]:
        sums: dict[str, tuple[int, int]] = {}
        for month in months:
            for row in TallyItem.query(f"PAYTOTAL#{month:%Y-%m}", TallyItem.sk.between(low, high)):
                _, currency, row_method, row_status = row.sk.split("#")
                if method is not None and row_method != method.value:
                    continue
                if status is not None and row_status != status.value:
                    continue
                count, amount = sums.get(currency, (0, 0))
                sums[currency] = (count + int(row.quantity or 0), amount + int(row.total or 0))
        return [PaymentTotal(Currency(c), n, a) for c, (n, a) in sorted(sums.items())]


def _onboard(
    account: Account, invoice: Invoice, settings: LedgerSettings, now: datetime
) -> rules.Posting | None:
    """An issued invoice the ledger has not seen (issued before billing called the seam) is put on it
    first, in the same transaction."""
    known = invoice.id in account.open or invoice.id in account.settled
    if known or invoice.status != InvoiceStatus.ISSUED or invoice.kind != InvoiceKind.INVOICE:
        return None
    facts = invoice_facts(invoice)
    return rules.issue_invoice(
        account, facts, settings.model_copy(update={"apply_credit_to_new_invoices": False}), now
    )


def _payment_item(payment: Payment) -> DocumentItem:
    return document_item("payment", keys.payment(payment.id, payment.paid_on), payment, status=payment.status)


def _suspense_item(item: SuspenseItem) -> DocumentItem:
    return document_item(
        "suspense", keys.suspense(item.id, item.status.value, item.paid_on), item, item.status
    )


def _day_total(payment: Payment, sign: int) -> Update:
    key = keys.payment_day_total(
        payment.paid_on, payment.currency.value, payment.method.value, payment.status.value
    )
    return tally(key.pk, key.sk, sign, sign * payment.amount)


def _months(start: date, end: date) -> list[date]:
    if end < start:
        raise _invalid("to", "the period ends before it starts", "range")
    months: list[date] = []
    current = start.replace(day=1)
    while current <= end:
        months.append(current)
        current = (
            current.replace(year=current.year + 1, month=1)
            if current.month == 12
            else current.replace(month=current.month + 1)
        )
    if len(months) > 36:
        raise _invalid("from", "ask for at most three years at a time", "range")
    return months


def _encode_report_cursor(month: int, inner: str | None) -> str:
    raw = json.dumps({"m": month, "k": inner}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_report_cursor(cursor: str | None, months: int) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    try:
        value: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        month, inner = int(value["m"]), value["k"]
        if not 0 <= month < months or not (inner is None or isinstance(inner, str)):
            raise ValueError("out of range")
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationFailedError(
            "the cursor is not one this API gave out",
            [FieldError("cursor", "invalid cursor", "invalid", "query")],
        ) from error
    return month, inner


__all__ = [
    "IncomingPayment",
    "LedgerService",
    "LedgerView",
    "PaymentTotal",
    "PaymentsReport",
    "PlannedPayment",
    "RecordedPayment",
    "StoredAccount",
]
