"""Turning ledger rules into one DynamoDB transaction each.

:class:`LedgerWrites` is what a transaction needs (creates, replaces at a version, updates) and can be
appended to any other transaction's writes, with the events of its change (``invoice.paid``,
``payment.received``, ``payment.refunded``, ``payment.failed``: the builders below are the one place each is
made). :class:`Book` caches what postings read (KID lookups,
invoices, accounts, settings) so that a payment file's transactions are prefetched a hundred at a time
and each payment then costs one TransactWriteItems.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute

from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.events import Event, EventType, new_event
from chalicelib.ledger.models import Account, LedgerSettings, Payment
from chalicelib.ledger.rules import InvoiceChange, InvoiceState, Posting, advance, number_entries
from chalicelib.store import keys
from chalicelib.store.base import MainItem
from chalicelib.store.documents import DocumentItem, DocumentStore, document_item

Update = tuple[Any, list[Any], Any]


class TallyItem(MainItem):
    """A count and a sum, moved with ADD inside the transactions that change them."""

    quantity = NumberAttribute(default=0)
    total = NumberAttribute(default=0)


def tally(pk: str, sk: str, count: int, amount: int) -> Update:
    """An update that adds ``count`` and ``amount`` to a tally."""
    return (TallyItem(pk, sk), [TallyItem.quantity.add(count), TallyItem.total.add(amount)], None)


@dataclass
class LedgerWrites:
    """Writes for one transaction. Append them to yours:
    ``store.write([*creates, *w.creates], [*replaces, *w.replaces], updates=[*updates, *w.updates],
    events=[*events, *w.events])``."""

    creates: list[DocumentItem] = field(default_factory=list)
    replaces: list[tuple[DocumentItem, int]] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    invoice: Invoice | None = None
    became_paid: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def extend(self, other: LedgerWrites) -> None:
        """Add ``other``'s writes and events (not its invoice) to these."""
        self.creates.extend(other.creates)
        self.replaces.extend(other.replaces)
        self.updates.extend(other.updates)
        self.became_paid.extend(i for i in other.became_paid if i not in self.became_paid)
        known = {event.id for event in self.events}
        self.events.extend(event for event in other.events if event.id not in known)


PaidHook = Callable[[Sequence[Invoice]], LedgerWrites]
"""Called with the invoices a transaction is about to mark paid; its writes join that transaction (the
place to grant access on payment)."""


# A payment the ledger could not place on a customer's ledger (suspense) belongs to no seller yet: its
# payment.received event says so with an empty legal_entity_id.
NO_SELLER = ""


def invoice_paid_event(invoice: Invoice, paid_on: date, now: datetime) -> Event:
    """``invoice.paid``: payments now cover ``invoice`` in full (again, after a reversal undid an earlier
    paying: each paying is its own event)."""
    return new_event(
        EventType.INVOICE_PAID,
        invoice.legal_entity_id,
        now,
        {
            "invoice_id": invoice.id,
            "number": invoice.number,
            "customer_id": invoice.customer_id,
            "paid_on": paid_on,
            "total": {"amount": invoice.totals.gross, "currency": invoice.currency.value},
        },
    )


def payment_received_event(payment: Payment, now: datetime) -> Event:
    """``payment.received``: ``payment`` came in and went where it says (invoices, credit or suspense), on
    its arrival or on its assignment from suspense."""
    return new_event(
        EventType.PAYMENT_RECEIVED,
        payment.legal_entity_id or NO_SELLER,
        now,
        {
            "payment_id": payment.id,
            "customer_id": payment.customer_id,
            "amount": {"amount": payment.amount, "currency": payment.currency.value},
            "method": payment.method.value,
            "received_on": payment.paid_on,
            "invoice_ids": list(dict.fromkeys(a.invoice_id for a in payment.allocations)),
        },
    )


def payment_refunded_event(
    refund_id: str, owner: tuple[str, str, str], amount: int, method: str, now: datetime
) -> Event:
    """``payment.refunded``: ``amount`` was paid back to the customer of ``owner`` (customer, seller,
    currency); ``refund_id`` is the refund's own key (a credit note, a payment's overpayment, ...)."""
    customer_id, legal_entity_id, currency = owner
    return new_event(
        EventType.PAYMENT_REFUNDED,
        legal_entity_id,
        now,
        {
            "payment_id": refund_id,
            "customer_id": customer_id,
            "amount": {"amount": amount, "currency": currency},
            "method": method,
        },
    )


def payment_failed_event(
    invoice: Invoice, attempt_key: str, amount: int, method: str, reason: str, now: datetime
) -> Event:
    """``payment.failed``: the charge of ``invoice`` (its attempt ``attempt_key``, which is also the
    event's payment id) was refused or failed."""
    return new_event(
        EventType.PAYMENT_FAILED,
        invoice.legal_entity_id,
        now,
        {
            "payment_id": attempt_key,
            "customer_id": invoice.customer_id,
            "invoice_id": invoice.id,
            "amount": {"amount": amount, "currency": invoice.currency.value},
            "method": method,
            "reason": reason,
        },
    )


def stable_id(prefix: str, *parts: str) -> str:
    """An id derived from ``parts``: the same payment gets the same id on every import."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return f"{prefix}_{base64.b32encode(digest).decode()[:26]}"


def invoice_facts(invoice: Invoice) -> Any:
    """The rules' view of an invoice."""
    from chalicelib.ledger.rules import InvoiceFacts

    return InvoiceFacts(
        invoice_id=invoice.id,
        number=invoice.number,
        due_date=invoice.due_date,
        gross=invoice.totals.gross,
        settled=invoice.status == InvoiceStatus.PAID,
        credited=invoice.status in (InvoiceStatus.CREDITED, InvoiceStatus.VOID),
    )


_STATUS = {
    InvoiceState.ISSUED: InvoiceStatus.ISSUED,
    InvoiceState.PAID: InvoiceStatus.PAID,
    InvoiceState.CREDITED: InvoiceStatus.CREDITED,
}


def changed_invoice(invoice: Invoice, change: InvoiceChange) -> Invoice:
    """The invoice document after a posting changed it."""
    return invoice.model_copy(update={"open_amount": change.open_amount, "status": _STATUS[change.state]})


def rewritten(item: DocumentItem, doc: Invoice) -> DocumentItem:
    """A copy of a stored invoice item with a new document and status, keeping its index keys."""
    copy = DocumentItem(
        item.pk,
        item.sk,
        kind=item.kind,
        doc=doc.model_dump_json(),
        status=doc.status,
        version=int(item.version),
    )
    copy.gsi1pk, copy.gsi1sk, copy.gsi2pk, copy.gsi2sk = item.gsi1pk, item.gsi1sk, item.gsi2pk, item.gsi2sk
    copy.gsi3pk, copy.gsi3sk = item.gsi3pk, item.gsi3sk
    return copy


@dataclass
class StoredAccount:
    """An account as read: its document and version (None when it does not exist yet)."""

    account: Account
    version: int | None


class Book:
    """What postings read, cached for a batch and refreshed after each successful write."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self.kids: dict[str, str | None] = {}
        self.invoices: dict[str, DocumentItem | None] = {}
        self.accounts: dict[tuple[str, str, str], StoredAccount] = {}
        self.settings: dict[str, LedgerSettings] = {}

    def prefetch_kids(self, kids: Iterable[str]) -> None:
        """Look up many KIDs (and then their invoices) in batches."""
        wanted = [kid for kid in dict.fromkeys(kids) if kid not in self.kids]
        found = self._store.batch_get((keys.kid_lookup(kid), "LOOKUP") for kid in wanted)
        prefix = keys.invoice("").pk
        for kid in wanted:
            item = found.get((keys.kid_lookup(kid), "LOOKUP"))
            target = item.target_pk if item is not None else None
            self.kids[kid] = target.removeprefix(prefix) if target and target.startswith(prefix) else None
        self.prefetch_invoices(i for i in (self.kids[k] for k in wanted) if i)

    def prefetch_invoices(self, invoice_ids: Iterable[str]) -> None:
        """Read many invoices in batches."""
        wanted = [i for i in dict.fromkeys(invoice_ids) if i not in self.invoices]
        found = self._store.batch_get((keys.invoice(i).pk, "INVOICE") for i in wanted)
        for ident in wanted:
            self.invoices[ident] = found.get((keys.invoice(ident).pk, "INVOICE"))

    def prefetch_accounts(self, owners: Iterable[tuple[str, str, str]]) -> None:
        """Read many accounts (customer, seller, currency) in batches."""
        wanted = [o for o in dict.fromkeys(owners) if o not in self.accounts]
        found = self._store.batch_get(
            (keys.ledger_account(*o).pk, keys.ledger_account(*o).sk) for o in wanted
        )
        for owner in wanted:
            key = keys.ledger_account(*owner)
            self.accounts[owner] = _stored_account(found.get((key.pk, key.sk)), owner)

    def hold_invoice(self, item: DocumentItem) -> None:
        """Keep an invoice the caller has just read, and its KID: a payment for it needs no lookup."""
        invoice = item.document(Invoice)
        self.invoices[invoice.id] = item
        if invoice.kid:
            self.kids[invoice.kid] = invoice.id

    def prefetch_owner(
        self, owner: tuple[str, str, str], more: Iterable[tuple[str, str]] = ()
    ) -> dict[tuple[str, str], DocumentItem]:
        """An account and its seller's ledger settings in one round trip, with ``more`` items the caller
        needs for the same payment (returned, found ones only)."""
        account = keys.ledger_account(*owner)
        settings = keys.ledger_settings(owner[1])
        wanted = [(account.pk, account.sk), (settings.pk, settings.sk), *more]
        found = self._store.batch_get(wanted)
        self.accounts[owner] = _stored_account(found.get((account.pk, account.sk)), owner)
        item = found.get((settings.pk, settings.sk))
        stored = item.document(LedgerSettings) if item is not None and item.doc is not None else None
        self.settings[owner[1]] = stored or LedgerSettings()
        return found

    def invoice_by_kid(self, kid: str) -> DocumentItem | None:
        """The invoice a KID names."""
        if kid not in self.kids:
            self.prefetch_kids([kid])
        ident = self.kids[kid]
        return self.invoice_item(ident) if ident else None

    def invoice_item(self, invoice_id: str) -> DocumentItem | None:
        """An invoice's stored item."""
        if invoice_id not in self.invoices:
            self.prefetch_invoices([invoice_id])
        return self.invoices[invoice_id]

    def account(self, customer_id: str, legal_entity_id: str, currency: str) -> StoredAccount:
        """An account, or a new empty one."""
        owner = (customer_id, legal_entity_id, currency)
        if owner not in self.accounts:
            self.prefetch_accounts([owner])
        return self.accounts[owner]

    def ledger_settings(self, legal_entity_id: str) -> LedgerSettings:
        """A seller's ledger settings (defaults when none are stored)."""
        if legal_entity_id not in self.settings:
            key = keys.ledger_settings(legal_entity_id)
            found = self._store.get_document(key.pk, key.sk, LedgerSettings)
            self.settings[legal_entity_id] = found or LedgerSettings()
        return self.settings[legal_entity_id]

    def forget(self, owner: tuple[str, str, str], invoice_ids: Iterable[str]) -> None:
        """Drop what a conflicting writer may have changed."""
        self.accounts.pop(owner, None)
        for ident in invoice_ids:
            self.invoices.pop(ident, None)

    def remember(self, writes: LedgerWrites) -> None:
        """After a successful write: keep the written accounts and invoices, at their new versions."""
        for item, _ in writes.replaces:
            self._keep(item)
        for item in writes.creates:
            self._keep(item)

    def _keep(self, item: DocumentItem) -> None:
        if item.kind == "invoice" and item.pk.startswith(keys.invoice("").pk):
            self.invoices[item.pk.removeprefix(keys.invoice("").pk)] = item
        elif item.kind == "ledger_account" and item.doc is not None:
            account = item.document(Account)
            owner = (account.customer_id, account.legal_entity_id, account.currency.value)
            self.accounts[owner] = StoredAccount(account, int(item.version))


def _stored_account(item: DocumentItem | None, owner: tuple[str, str, str]) -> StoredAccount:
    if item is None or item.doc is None:
        customer_id, legal_entity_id, currency = owner
        from chalicelib.money import Currency

        return StoredAccount(
            Account(customer_id=customer_id, legal_entity_id=legal_entity_id, currency=Currency(currency)),
            None,
        )
    return StoredAccount(item.document(Account), int(item.version))


def posting_writes(
    stored: StoredAccount,
    posting: Posting,
    invoices: dict[str, DocumentItem],
    booked_on: date,
    now: datetime,
) -> LedgerWrites:
    """The account, its new entries and the changed invoices' documents, as writes, and ``invoice.paid``
    for every invoice the posting paid in full."""
    account = advance(posting)
    writes = LedgerWrites()
    item = document_item("ledger_account", keys.ledger_account(*_owner(account)), account)
    if stored.version is None:
        writes.creates.append(item)
    else:
        item.version = stored.version
        writes.replaces.append((item, stored.version))
    for entry in number_entries(stored.account, posting, booked_on, now):
        writes.creates.append(
            document_item(
                "ledger_entry",
                keys.ledger_entry(entry.customer_id, entry.legal_entity_id, entry.currency, entry.seq),
                entry,
            )
        )
    for invoice_id, change in posting.invoices.items():
        current = invoices.get(invoice_id)
        if current is None or current.doc is None:
            continue
        invoice = current.document(Invoice)
        updated = changed_invoice(invoice, change)
        if updated != invoice:
            writes.replaces.append((rewritten(current, updated), int(current.version)))
        if updated.status == InvoiceStatus.PAID and invoice.status != InvoiceStatus.PAID:
            writes.became_paid.append(invoice_id)
            writes.events.append(invoice_paid_event(updated, booked_on, now))
    return writes


def _owner(account: Account) -> tuple[str, str, str]:
    return account.customer_id, account.legal_entity_id, account.currency.value
