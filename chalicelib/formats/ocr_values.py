"""What an OCR giro file is once parsed and checked (:func:`chalicelib.formats.ocr.parse_ocr`): its
assignments and transactions, the reasons a file is rejected, and the one reason a single transaction is
left out (:func:`transaction_rejection`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from chalicelib.money import MAX_AMOUNT, is_within_amount_bound

AVTALEGIRO_TYPE = 15


class KidStatus(StrEnum):
    """What the KID of a transaction is worth."""

    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"


@dataclass(frozen=True)
class Reason:
    """Why a file is rejected: the 1-based line (None for the file as a whole), a code and a message."""

    code: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.message}"


class OcrRejectedError(ValueError):
    """The file is not a valid OCR giro file; ``reasons`` says why, line by line."""

    def __init__(self, reasons: Sequence[Reason]) -> None:
        self.reasons = list(reasons)
        super().__init__("; ".join(str(reason) for reason in self.reasons[:5]))


@dataclass(frozen=True)
class OcrTransaction:
    """One incoming payment reported by Nets."""

    agreement_id: str
    assignment_number: str
    account: str
    transaction_number: int
    transaction_type: int
    nets_date: date
    amount: int
    kid: str | None
    kid_status: KidStatus
    archive_reference: str | None
    form_number: str | None
    bank_date: date | None
    debit_account: str | None
    text: str | None
    centre_id: str | None
    day_code: int | None
    partial_settlement_number: int | None
    partial_settlement_serial_number: str | None
    line: int

    @property
    def identity(self) -> str:
        """Nets' identity of the transaction: the same payment has it in every file that reports it."""
        return "/".join(
            [
                self.agreement_id,
                self.assignment_number,
                self.nets_date.isoformat(),
                f"{self.transaction_number:07d}",
                self.archive_reference or "-",
            ]
        )

    @property
    def is_reversal(self) -> bool:
        """Money taken back."""
        return self.amount < 0

    @property
    def is_avtalegiro(self) -> bool:
        """An AvtaleGiro claim settled by the payer's bank (type 15)."""
        return self.transaction_type == AVTALEGIRO_TYPE


@dataclass(frozen=True)
class OcrAssignment:
    """An assignment: the payments to one of our accounts under one Nets agreement."""

    agreement_id: str
    number: str
    account: str
    nets_date: date | None
    transactions: tuple[OcrTransaction, ...]
    total_amount: int


@dataclass(frozen=True)
class OcrFile:
    """A parsed and checked OCR giro file."""

    sha256: str
    transmission_number: str
    data_transmitter: str
    data_recipient: str
    nets_date: date | None
    assignments: tuple[OcrAssignment, ...]
    record_count: int
    total_amount: int

    @property
    def transactions(self) -> list[OcrTransaction]:
        """Every transaction, in file order."""
        return [t for assignment in self.assignments for t in assignment.transactions]

    @property
    def importable(self) -> list[OcrTransaction]:
        """The transactions to import, in file order: those :func:`transaction_rejection` accepts."""
        return [t for t in self.transactions if transaction_rejection(t) is None]

    @property
    def rejections(self) -> list[tuple[OcrTransaction, Reason]]:
        """The transactions left out of the import, each with why, in file order."""
        return [(t, reason) for t in self.transactions if (reason := transaction_rejection(t)) is not None]


def transaction_rejection(transaction: OcrTransaction) -> Reason | None:
    """Why one transaction cannot be imported though its file is sound, or None: an amount beyond the bound
    of a single amount (a corrupt record or a typo at the bank; no payment is that large)."""
    if not is_within_amount_bound(transaction.amount):
        return Reason(
            "amount_out_of_bounds",
            f"transaction {transaction.transaction_number} of {transaction.amount} øre is beyond the largest "
            f"single amount ({MAX_AMOUNT} øre); it was not imported",
            transaction.line,
        )
    return None


def content_hash(data: bytes) -> str:
    """The file's identity: the SHA-256 of its bytes, hex."""
    return hashlib.sha256(data).hexdigest()
