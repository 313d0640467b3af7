"""The ledger's rules as pure functions: each takes an account (and what happened) and returns a
``Posting`` (:mod:`chalicelib.ledger.rule_types`): the account after, the entries to append, and the
invoices whose open amount or status changed. Nothing here reads or writes storage.

Invariants every rule keeps (the property tests check them over long random sequences):

- ``balance == Σ open items − credit`` and ``balance == Σ balance_change`` of the entries;
- every open item has ``open == charged − paid − credited − written_off`` and ``0 < open``;
- money is conserved: what was received is applied to invoices, held as credit, refunded or in suspense.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from chalicelib.ledger.models import (
    Account,
    Allocation,
    EntryKind,
    LedgerEntry,
    LedgerSettings,
    OpenItem,
    OverpaymentRule,
)
from chalicelib.ledger.rule_types import (
    BALANCE_SIGN,
    Draft,
    InvoiceChange,
    InvoiceFacts,
    InvoiceState,
    LedgerRuleError,
    Posting,
    Work,
)


def _due_order(items: Iterable[OpenItem]) -> list[OpenItem]:
    return sorted(items, key=lambda item: (item.due_date, item.number or 0, item.invoice_id))


def tolerance_for(charged: int, settings: LedgerSettings) -> int:
    """The underpayment forgiven on an invoice of ``charged``: the larger of the fixed amount and the
    share (rounded down, so that it never forgives more than configured)."""
    share = charged * settings.tolerance_basis_points // 10_000 if charged > 0 else 0
    return max(settings.tolerance_amount, share)


def settle_within_tolerance(item: OpenItem, settings: LedgerSettings) -> tuple[OpenItem, Draft | None]:
    """An item whose rest is within the tolerance is written off (and so paid); others stay open."""
    if 0 < item.open <= tolerance_for(item.charged, settings) and item.paid > 0:
        written = replace_item(item, written_off=item.written_off + item.open)
        return written, Draft(
            EntryKind.WRITE_OFF,
            item.open,
            item.invoice_id,
            text="underpayment within the settlement tolerance",
        )
    return item, None


def replace_item(item: OpenItem, **changes: int) -> OpenItem:
    """``item`` with ``changes``, its open amount recomputed."""
    updated = item.model_copy(update=changes)
    return updated.model_copy(
        update={"open": updated.charged - updated.paid - updated.credited - updated.written_off}
    )


def _apply_credit(
    work: Work, item: OpenItem, payment_id: str | None, text: str | None, limit: int | None = None
) -> OpenItem:
    """Move available credit (at most ``limit``) onto ``item``."""
    amount = min(max(work.credit, 0), item.open, item.open if limit is None else limit)
    if amount <= 0:
        return item
    work.credit -= amount
    work.allocations[item.invoice_id] = work.allocations.get(item.invoice_id, 0) + amount
    work.book(Draft(EntryKind.PAYMENT_APPLIED, amount, item.invoice_id, payment_id, text=text))
    return replace_item(item, paid=item.paid + amount)


def _excess(work: Work, payment_id: str | None, skip: str | None, budget: int) -> None:
    """This event's money left after the named invoice (at most ``budget``): the customer's other open
    items first, oldest due first (if so set), then credit, or a refund (per settings)."""
    left = min(max(work.credit, 0), max(budget, 0))
    if work.settings.excess_to_open_items:
        for other in _due_order(list(work.open.values())):
            if left <= 0:
                break
            if other.invoice_id == skip:
                continue
            before = work.credit
            paid = _apply_credit(work, other, payment_id, None, left)
            left -= before - work.credit
            if paid == other:
                continue
            paid, written = settle_within_tolerance(paid, work.settings)
            if written:
                work.book(written)
            work.set_item(paid)
    if left <= 0:
        return
    if work.settings.overpayment == OverpaymentRule.REFUND:
        work.credit -= left
        work.refunded += left
        work.book(Draft(EntryKind.REFUND, left, payment_id=payment_id, text="overpayment to be paid back"))
    else:
        work.to_credit += left


def issue_invoice(account: Account, facts: InvoiceFacts, settings: LedgerSettings, now: datetime) -> Posting:
    """An invoice is issued: a new open item of its gross amount; customer credit pays it at once (if so
    set). A zero invoice is paid on issue; a negative total is a credit note's business, not an invoice's."""
    if facts.invoice_id in account.open or facts.invoice_id in account.settled:
        raise LedgerRuleError(f"invoice {facts.invoice_id} is already on the ledger")
    if facts.gross < 0:
        raise LedgerRuleError("an invoice with a negative total must be issued as a credit note")
    work = Work.of(account, settings)
    work.book(Draft(EntryKind.INVOICE_ISSUED, facts.gross, facts.invoice_id))
    item = OpenItem(
        invoice_id=facts.invoice_id,
        number=facts.number,
        due_date=facts.due_date,
        charged=facts.gross,
        open=facts.gross,
    )
    if settings.apply_credit_to_new_invoices:
        item = _apply_credit(work, item, None, "customer credit")
    work.set_item(item)
    return work.posting(now)


def charge_fee(
    account: Account, invoice_id: str, amount: int, fee_id: str, text: str, now: datetime
) -> Posting:
    """A fee (e.g. a reminder fee) added to an open invoice."""
    if amount <= 0:
        raise LedgerRuleError("a fee is a positive amount")
    item = account.open.get(invoice_id)
    if item is None:
        raise LedgerRuleError(f"invoice {invoice_id} is not open")
    work = Work.of(account, LedgerSettings())
    work.book(Draft(EntryKind.FEE, amount, invoice_id, document_id=fee_id, text=text))
    work.set_item(replace_item(item, charged=item.charged + amount))
    return work.posting(now)


def credit_invoice(
    account: Account,
    facts: InvoiceFacts,
    amount: int,
    credit_note_id: str,
    settings: LedgerSettings,
    now: datetime,
) -> Posting:
    """A credit note of ``amount`` on an invoice: its open amount falls first; money already paid on it
    is released (it becomes credit, or a refund, per settings); then any amount written off is taken
    back. Crediting more than the invoice charged is refused."""
    if amount <= 0:
        raise LedgerRuleError("a credit note credits a positive amount")
    work = Work.of(account, settings)
    work.book(Draft(EntryKind.CREDIT_NOTE, amount, facts.invoice_id, document_id=credit_note_id))
    item = work.item(facts.invoice_id)
    if item is None:
        # Settled longer ago than the account remembers: it was paid in full.
        item = OpenItem(
            invoice_id=facts.invoice_id,
            number=facts.number,
            due_date=facts.due_date,
            charged=facts.gross,
            paid=facts.gross,
            open=0,
        )
    reduced = min(amount, item.open)
    released = min(amount - reduced, item.paid)
    unwritten = min(amount - reduced - released, item.written_off)
    if reduced + released + unwritten != amount:
        raise LedgerRuleError("a credit note cannot credit more than the invoice charged")
    if released:
        work.credit += released
        work.book(
            Draft(EntryKind.PAYMENT_APPLIED, -released, facts.invoice_id, text="released by a credit note")
        )
    if unwritten:
        work.book(Draft(EntryKind.WRITE_OFF, -unwritten, facts.invoice_id, text="write-off credited"))
    item = replace_item(
        item,
        credited=item.credited + amount,
        paid=item.paid - released,
        written_off=item.written_off - unwritten,
    )
    work.set_item(item)
    if released:
        _excess(work, None, facts.invoice_id, released)
    return work.posting(now)


def apply_payment(
    account: Account,
    amount: int,
    payment_id: str,
    settings: LedgerSettings,
    now: datetime,
    invoice: InvoiceFacts | None = None,
    *,
    from_suspense: str | None = None,
) -> Posting:
    """Money received: booked as received (or moved from suspense), applied to the named invoice, the
    rest per the excess rules; an underpayment within the tolerance settles the invoice. A negative
    amount (a reversal) takes the money back: from credit first, then by reopening the invoice."""
    work = Work.of(account, settings)
    if from_suspense is not None:
        work.book(Draft(EntryKind.MOVED_FROM_SUSPENSE, amount, None, payment_id, document_id=from_suspense))
    else:
        work.book(Draft(EntryKind.PAYMENT_RECEIVED, amount, None, payment_id))
    work.credit += amount
    if amount < 0:
        _reverse(work, invoice, payment_id)
        return work.posting(now)
    named = account.open.get(invoice.invoice_id) if invoice else None
    if named is not None:
        item = _apply_credit(work, named, payment_id, None)
        item, written = settle_within_tolerance(item, settings)
        if written:
            work.book(written)
        work.set_item(item)
    _excess(work, payment_id, named.invoice_id if named else None, amount)
    return work.posting(now)


def _reverse(work: Work, invoice: InvoiceFacts | None, payment_id: str) -> None:
    if work.credit >= 0 or invoice is None or invoice.credited:
        return
    item = work.item(invoice.invoice_id)
    if item is None and invoice.settled:
        # Settled longer ago than the account remembers: reopen it as if paid in full.
        item = OpenItem(
            invoice_id=invoice.invoice_id,
            number=invoice.number,
            due_date=invoice.due_date,
            charged=invoice.gross,
            paid=invoice.gross,
            open=0,
        )
    if item is None:
        return
    reopened = min(-work.credit, item.paid)
    if reopened <= 0:
        return
    work.credit += reopened
    work.allocations[item.invoice_id] = work.allocations.get(item.invoice_id, 0) - reopened
    work.book(
        Draft(EntryKind.PAYMENT_APPLIED, -reopened, item.invoice_id, payment_id, text="payment reversed")
    )
    work.set_item(replace_item(item, paid=item.paid - reopened))


def then(first: Posting, second: Posting) -> Posting:
    """Two postings made one after the other (``second`` was made from ``first.account``) as one."""
    allocations: dict[str, int] = {}
    for allocation in (*first.allocations, *second.allocations):
        allocations[allocation.invoice_id] = allocations.get(allocation.invoice_id, 0) + allocation.amount
    return Posting(
        account=second.account,
        entries=(*first.entries, *second.entries),
        invoices={**first.invoices, **second.invoices},
        allocations=tuple(Allocation(invoice_id=i, amount=a) for i, a in allocations.items() if a),
        to_credit=first.to_credit + second.to_credit,
        refunded=first.refunded + second.refunded,
    )


def refund_credit(account: Account, amount: int, refund_id: str, now: datetime) -> Posting:
    """Pay back credit the customer holds."""
    if not 0 < amount <= account.credit:
        raise LedgerRuleError(f"can refund 1 to {account.credit} øre, not {amount}")
    work = Work.of(account, LedgerSettings())
    work.credit -= amount
    work.refunded += amount
    work.book(Draft(EntryKind.REFUND, amount, document_id=refund_id, text="credit paid back"))
    return work.posting(now)


def write_off(account: Account, invoice_id: str, amount: int, text: str, now: datetime) -> Posting:
    """Give up (part of) what an invoice still claims."""
    item = account.open.get(invoice_id)
    if item is None or not 0 < amount <= item.open:
        raise LedgerRuleError(f"cannot write off {amount} øre of invoice {invoice_id}")
    work = Work.of(account, LedgerSettings())
    work.book(Draft(EntryKind.WRITE_OFF, amount, invoice_id, text=text))
    work.set_item(replace_item(item, written_off=item.written_off + amount))
    return work.posting(now)


def move_to_suspense(account: Account, amount: int, suspense_id: str, text: str, now: datetime) -> Posting:
    """Take credit off a customer (it was not theirs) and park it in suspense."""
    if not 0 < amount <= account.credit:
        raise LedgerRuleError(f"can move 1 to {account.credit} øre to suspense, not {amount}")
    work = Work.of(account, LedgerSettings())
    work.credit -= amount
    work.book(Draft(EntryKind.MOVED_TO_SUSPENSE, amount, document_id=suspense_id, text=text))
    return work.posting(now)


def number_entries(
    account_before: Account, posting: Posting, booked_on: date, now: datetime
) -> list[LedgerEntry]:
    """The posting's entries as stored, numbered from the account's next sequence number."""
    entries: list[LedgerEntry] = []
    balance = account_before.balance
    for offset, draft in enumerate(posting.entries):
        balance += draft.balance_change
        entries.append(
            LedgerEntry(
                customer_id=account_before.customer_id,
                legal_entity_id=account_before.legal_entity_id,
                currency=account_before.currency,
                seq=account_before.next_seq + offset,
                kind=draft.kind,
                amount=draft.amount,
                balance_change=draft.balance_change,
                balance_after=balance,
                invoice_id=draft.invoice_id,
                payment_id=draft.payment_id,
                document_id=draft.document_id,
                text=draft.text,
                booked_on=booked_on,
                at=now,
            )
        )
    return entries


def advance(posting: Posting) -> Account:
    """The account to store after ``posting``: its sequence moved past the posting's entries."""
    return posting.account.model_copy(update={"next_seq": posting.account.next_seq + len(posting.entries)})


__all__ = [
    "BALANCE_SIGN",
    "Draft",
    "InvoiceChange",
    "InvoiceFacts",
    "InvoiceState",
    "LedgerRuleError",
    "Posting",
    "advance",
    "apply_payment",
    "charge_fee",
    "credit_invoice",
    "issue_invoice",
    "move_to_suspense",
    "number_entries",
    "refund_credit",
    "settle_within_tolerance",
    "then",
    "tolerance_for",
    "write_off",
]
