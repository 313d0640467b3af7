"""The flows that move a payment in suspense onto a customer's ledger (on an invoice, or on the customer:
its open items oldest first, the rest credit), and credit off a customer's account into suspense. Each is
one transaction with its events (``payment.received`` naming the seller when an assigned payment reaches
its ledger, ``invoice.paid`` for each invoice it pays, and what paying it grants: see the ledger's paid
hooks)."""

from __future__ import annotations

from datetime import datetime

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.zones import SellerZones
from chalicelib.clock import Clock
from chalicelib.errors import ConflictError, NotFoundError, UnavailableError
from chalicelib.ledger import rules
from chalicelib.ledger.models import Payment, PaymentStatus, SuspenseItem, SuspenseStatus
from chalicelib.ledger.payment_items import day_total, invalid, onboard, payment_item, suspense_item
from chalicelib.ledger.posting import (
    Book,
    LedgerWrites,
    invoice_facts,
    payment_received_event,
    posting_writes,
    stable_id,
)
from chalicelib.ledger.reports import customer_accounts
from chalicelib.ledger.service import LedgerService
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore, WriteConflictError
from chalicelib.store.transaction import TRANSACTION_RETRIES


class AssignSuspense:
    """Suspense assignment: from suspense to a customer's ledger, and back."""

    def __init__(
        self, store: DocumentStore, ledger: LedgerService, clock: Clock, zones: SellerZones | None = None
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._clock = clock
        self._zones = zones or SellerZones(store)

    def assign(
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
            raise invalid("invoice_id", "name exactly one of invoice_id and customer_id", "one_of")
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
        book = self._ledger.book()
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
        onboarded = onboard(account.account, invoice, settings, now) if invoice else None
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
        self._ledger.paid_writes(writes, items, posting)
        assigned = item.model_copy(
            update={
                "status": SuspenseStatus.ASSIGNED,
                "assigned_customer_id": owner[0],
                "assigned_legal_entity_id": owner[1],
                "assigned_invoice_id": invoice_id,
                "assigned_at": now,
            }
        )
        replaced = suspense_item(assigned)
        replaced.version = int(stored.version)
        writes.replaces.append((replaced, int(stored.version)))
        if item.payment_id:
            self._assigned_payment(writes, item.payment_id, owner, invoice_id, posting, now)
        self._store.write(writes.creates, writes.replaces, updates=writes.updates, events=writes.events)
        return assigned

    def _assign_invoice(self, book: Book, item: SuspenseItem, invoice_id: str | None) -> Invoice | None:
        if invoice_id is None:
            return None
        stored = book.invoice_item(invoice_id)
        if stored is None or stored.doc is None:
            raise invalid("invoice_id", f"no invoice {invoice_id}", "unknown")
        invoice = stored.document(Invoice)
        if invoice.kind != InvoiceKind.INVOICE or invoice.status == InvoiceStatus.DRAFT:
            raise invalid("invoice_id", "only an issued invoice can be paid", "not_payable")
        if invoice.currency != item.currency:
            raise invalid("invoice_id", f"the payment is in {item.currency}", "currency_mismatch")
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
            raise invalid("customer_id", f"no customer {customer_id}", "unknown")
        if legal_entity_id is None:
            sellers = [
                a.legal_entity_id
                for a in customer_accounts(self._store, customer_id)
                if a.currency == item.currency
            ]
            if len(sellers) != 1:
                raise invalid(
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
        item = payment_item(assigned)
        item.version = int(stored.version)
        writes.replaces.append((item, int(stored.version)))
        writes.updates.extend([day_total(payment, -1), day_total(assigned, 1)])
        # Its arrival's event named no seller: the seller now learns of the money on its customer's ledger.
        writes.events.insert(0, payment_received_event(assigned, now))

    def move_to_suspense(
        self, customer_id: str, legal_entity_id: str, currency: Currency, amount: int, text: str
    ) -> SuspenseItem:
        """Take credit off a customer's account (it was someone else's) and park it in suspense."""
        for _ in TRANSACTION_RETRIES.tries():
            now = self._clock.now()
            book = self._ledger.book()
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
                raise invalid("amount", str(error), "exceeds_credit") from None
            writes = posting_writes(stored, posting, {}, suspense.paid_on, now)
            try:
                self._store.write(
                    [*writes.creates, suspense_item(suspense)], writes.replaces, events=writes.events
                )
            except WriteConflictError:
                continue
            return suspense
        raise UnavailableError("the customer's account kept changing; try again")
