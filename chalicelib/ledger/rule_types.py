"""The values the ledger's rules (:mod:`chalicelib.ledger.rules`) take and return, and the working copy of
an account a rule builds its :class:`Posting` in (it checks the invariants as items change)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from chalicelib.ledger.models import Account, Allocation, EntryKind, LedgerSettings, OpenItem

SETTLED_KEPT = 50
# The sign each kind's amount has on the balance. PAYMENT_APPLIED moves credit onto an invoice: 0.
BALANCE_SIGN = {
    EntryKind.INVOICE_ISSUED: 1,
    EntryKind.CREDIT_NOTE: -1,
    EntryKind.PAYMENT_RECEIVED: -1,
    EntryKind.PAYMENT_APPLIED: 0,
    EntryKind.FEE: 1,
    EntryKind.REFUND: 1,
    EntryKind.WRITE_OFF: -1,
    EntryKind.MOVED_TO_SUSPENSE: 1,
    EntryKind.MOVED_FROM_SUSPENSE: -1,
}


class LedgerRuleError(ValueError):
    """A rule was asked to do something the ledger does not allow (e.g. refund more than the credit)."""


class InvoiceState(StrEnum):
    """What the invoice document's status becomes."""

    ISSUED = "issued"
    PAID = "paid"
    CREDITED = "credited"


@dataclass(frozen=True)
class InvoiceChange:
    """An invoice whose open amount or status changed."""

    invoice_id: str
    open_amount: int
    state: InvoiceState


@dataclass(frozen=True)
class InvoiceFacts:
    """What the rules need to know of an invoice that may not be open (any more)."""

    invoice_id: str
    number: int | None
    due_date: date
    gross: int
    settled: bool = False
    credited: bool = False


@dataclass(frozen=True)
class Draft:
    """An entry before it is numbered."""

    kind: EntryKind
    amount: int
    invoice_id: str | None = None
    payment_id: str | None = None
    document_id: str | None = None
    text: str | None = None

    @property
    def balance_change(self) -> int:
        """Its effect on the balance."""
        return BALANCE_SIGN[self.kind] * self.amount


@dataclass(frozen=True)
class Posting:
    """What a rule did: the account after, the entries, and the invoices that changed."""

    account: Account
    entries: tuple[Draft, ...] = ()
    invoices: dict[str, InvoiceChange] = field(default_factory=dict)
    allocations: tuple[Allocation, ...] = ()
    to_credit: int = 0
    refunded: int = 0

    @property
    def became_paid(self) -> list[str]:
        """Invoices this posting settled by money (paid, not credited)."""
        return [i for i, change in self.invoices.items() if change.state == InvoiceState.PAID]


@dataclass
class Work:
    """The mutable working copy of an account a rule builds its posting in."""

    account: Account
    settings: LedgerSettings
    credit: int
    open: dict[str, OpenItem]
    settled: dict[str, OpenItem]
    entries: list[Draft] = field(default_factory=list)
    changed: dict[str, InvoiceChange] = field(default_factory=dict)
    allocations: dict[str, int] = field(default_factory=dict)
    to_credit: int = 0
    refunded: int = 0

    @classmethod
    def of(cls, account: Account, settings: LedgerSettings) -> Work:
        """A working copy of ``account`` under ``settings``."""
        return cls(account, settings, account.credit, dict(account.open), dict(account.settled))

    def item(self, invoice_id: str) -> OpenItem | None:
        """An invoice's item, open or recently settled."""
        return self.open.get(invoice_id) or self.settled.get(invoice_id)

    def book(self, draft: Draft) -> None:
        """Add an entry to the posting."""
        self.entries.append(draft)

    def set_item(self, item: OpenItem) -> None:
        """Store an item; a settled one leaves the open items and its invoice's state is recorded."""
        if item.open != item.charged - item.paid - item.credited - item.written_off:
            raise LedgerRuleError(f"open item {item.invoice_id} does not add up")
        if item.open < 0:
            raise LedgerRuleError(f"open item {item.invoice_id} would go below zero")
        self.settled.pop(item.invoice_id, None)
        if item.open == 0:
            self.open.pop(item.invoice_id, None)
            self.settled[item.invoice_id] = item
            while len(self.settled) > SETTLED_KEPT:
                self.settled.pop(next(iter(self.settled)))
            fully_credited = item.credited >= item.charged and item.charged > 0
            state = InvoiceState.CREDITED if fully_credited else InvoiceState.PAID
        else:
            self.open[item.invoice_id] = item
            state = InvoiceState.ISSUED
        self.changed[item.invoice_id] = InvoiceChange(item.invoice_id, item.open, state)

    def posting(self, now: datetime) -> Posting:
        """The posting: the account after (checked against the entries), entries, changes."""
        balance = sum(item.open for item in self.open.values()) - self.credit
        expected = self.account.balance + sum(d.balance_change for d in self.entries)
        if balance != expected:
            raise LedgerRuleError(f"balance {balance} ≠ previous balance + entries {expected}")
        account = self.account.model_copy(
            update={
                "balance": balance,
                "credit": self.credit,
                "open": self.open,
                "settled": self.settled,
                "updated_at": now,
            }
        )
        allocations = tuple(Allocation(invoice_id=i, amount=a) for i, a in self.allocations.items() if a)
        return Posting(account, tuple(self.entries), self.changed, allocations, self.to_credit, self.refunded)
