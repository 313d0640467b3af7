"""The accounts receivable ledger ("kundereskontro") as stored: each customer's account per currency with
its open items, the append-only entries, incoming payments, suspense, payment-file reports and the
per-seller ledger settings. Amounts are integer minor units (øre)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from chalicelib.money import Currency
from chalicelib.values import Document


class OverpaymentRule(StrEnum):
    """What happens to money a customer paid beyond what it owes."""

    CREDIT = "credit"
    REFUND = "refund"


class LedgerSettings(Document):
    """A seller's ledger rules (docs/ledger.md). The defaults apply until a seller sets its own."""

    tolerance_amount: int = Field(default=0, ge=0, description="underpayment forgiven, øre (500 = 5 NOK)")
    tolerance_basis_points: int = Field(
        default=0, ge=0, le=10_000, description="underpayment forgiven, share of the invoice (100 = 1 %)"
    )
    overpayment: OverpaymentRule = OverpaymentRule.CREDIT
    excess_to_open_items: bool = Field(
        default=True, description="excess of a payment settles the customer's other open invoices first"
    )
    apply_credit_to_new_invoices: bool = True


class EntryKind(StrEnum):
    """What an entry records. Its effect on the balance follows from the kind (docs/ledger.md)."""

    INVOICE_ISSUED = "invoice_issued"
    CREDIT_NOTE = "credit_note"
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_APPLIED = "payment_applied"
    FEE = "fee"
    REFUND = "refund"
    WRITE_OFF = "write_off"
    MOVED_TO_SUSPENSE = "moved_to_suspense"
    MOVED_FROM_SUSPENSE = "moved_from_suspense"


class OpenItem(Document):
    """An invoice with money still open, and how it got there. ``open`` is charged − paid − credited −
    written off."""

    invoice_id: str
    number: int | None = None
    due_date: date
    charged: int
    paid: int = 0
    credited: int = 0
    written_off: int = 0
    open: int


class Account(Document):
    """A customer's account with one seller in one currency. ``balance`` = Σ open items − credit:
    positive when the customer owes, negative when it holds credit. ``credit`` is money received and not
    applied (negative only after a reversal took back more than could be reopened: the customer owes it)."""

    customer_id: str
    legal_entity_id: str
    currency: Currency
    balance: int = 0
    credit: int = 0
    open: dict[str, OpenItem] = Field(default_factory=dict)
    settled: dict[str, OpenItem] = Field(
        default_factory=dict, description="the most recently settled items, for credit notes and reversals"
    )
    next_seq: int = 1
    updated_at: datetime | None = None


class LedgerEntry(Document):
    """One line of a customer's ledger. Never changed; a correction is a new entry."""

    customer_id: str
    legal_entity_id: str
    currency: Currency
    seq: int
    kind: EntryKind
    amount: int = Field(description="what the entry is about, øre (negative for reversals)")
    balance_change: int = Field(description="its effect on the balance")
    balance_after: int
    invoice_id: str | None = None
    payment_id: str | None = None
    document_id: str | None = Field(default=None, description="credit note, fee or suspense item")
    text: str | None = None
    booked_on: date
    at: datetime


class PaymentStatus(StrEnum):
    """Where an incoming payment stands."""

    MATCHED = "matched"
    SUSPENSE = "suspense"
    ASSIGNED = "assigned"


class IncomingMethod(StrEnum):
    """How money came in."""

    GIRO = "giro"
    AVTALEGIRO = "avtalegiro"
    CARD = "card"
    VIPPS = "vipps"
    AUTOGIRO = "autogiro"
    BANK_TRANSFER = "bank_transfer"
    MANUAL = "manual"


class SuspenseReason(StrEnum):
    """Why a payment could not be placed on a customer's ledger."""

    UNKNOWN_KID = "unknown_kid"
    INVALID_KID = "invalid_kid"
    MISSING_KID = "missing_kid"
    CURRENCY = "currency_mismatch"
    NOT_PAYABLE = "invoice_not_payable"


class Allocation(Document):
    """Part of a payment applied to one invoice."""

    invoice_id: str
    amount: int


class Payment(Document):
    """Money received, and where it went."""

    id: str
    source: str = Field(description="ocr, api, ...")
    source_reference: str = Field(description="the sender's identity of the payment (Nets' for OCR)")
    method: IncomingMethod
    status: PaymentStatus
    amount: int
    currency: Currency
    paid_on: date
    kid: str | None = None
    customer_id: str | None = None
    legal_entity_id: str | None = None
    invoice_id: str | None = None
    suspense_reason: SuspenseReason | None = None
    allocations: list[Allocation] = Field(default_factory=list)
    to_credit: int = 0
    refunded: int = 0
    became_paid: list[str] = Field(default_factory=list)
    file_id: str | None = None
    payer_account: str | None = None
    text: str | None = None
    received_at: datetime


class SuspenseStatus(StrEnum):
    """Open until the back office assigns it."""

    OPEN = "open"
    ASSIGNED = "assigned"


class SuspenseItem(Document):
    """A payment parked until someone finds out whose it is."""

    id: str
    payment_id: str | None = None
    amount: int
    currency: Currency
    reason: SuspenseReason | str
    kid: str | None = None
    paid_on: date
    status: SuspenseStatus = SuspenseStatus.OPEN
    from_customer_id: str | None = Field(default=None, description="moved here out of a customer's credit")
    assigned_customer_id: str | None = None
    assigned_legal_entity_id: str | None = None
    assigned_invoice_id: str | None = None
    assigned_at: datetime | None = None
    created_at: datetime


class FileStatus(StrEnum):
    """Where an imported payment file stands."""

    IMPORTING = "importing"
    IMPORTED = "imported"
    REJECTED = "rejected"


class FileArrival(Document):
    """One time the file was put in the bucket."""

    bucket: str
    key: str
    etag: str
    received_at: datetime
    duplicate: bool = False


class RejectionReason(Document):
    """Why a file was rejected."""

    code: str
    message: str
    line: int | None = None


class PaymentFile(Document):
    """A payment file and its import report. ``id`` is the SHA-256 of its bytes."""

    id: str
    format: str = "ocr_giro"
    status: FileStatus
    arrivals: list[FileArrival]
    size: int
    transmission_number: str | None = None
    nets_date: date | None = None
    transactions: int = 0
    total_amount: int = 0
    reasons: list[RejectionReason] = Field(default_factory=list)
    created_at: datetime
    finished_at: datetime | None = None
