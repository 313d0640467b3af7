"""OCR giro files (Nets → us, service code 09): a validating adapter around ``netsgiro``.

``netsgiro`` parses each record; this module checks what it does not: the bytes are ISO-8859-1 text of
80-character records, every record type and transaction type is known, records nest (transmission →
assignments → transactions of item 1, item 2 and, for types 20/21, item 3), and the assignment and
transmission trailers' counts and sums agree with the records. A file that fails any check is rejected
whole with every reason found (:class:`~chalicelib.formats.ocr_values.OcrRejectedError`); a transaction
whose KID has a wrong check digit is *not* a reason to reject: it is reported per transaction
(:attr:`~chalicelib.formats.ocr_values.OcrTransaction.kid_status`) and the ledger parks it in suspense.

Amounts are integer øre, negative for reversals (sign ``-`` in position 32, or types 18 and 20). A
MOD11 KID may end in ``-``, which ``netsgiro`` cannot parse; the adapter reads it back itself. A transaction
whose amount is beyond the platform's bound for a single amount (:data:`chalicelib.money.MAX_AMOUNT`) does
not reject the file: it counts in the trailers' sums, and :attr:`OcrFile.rejections` lists it so that the
import leaves it out and reports it (:func:`transaction_rejection`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from netsgiro.records import (
    AssignmentEnd,
    AssignmentStart,
    TransactionAmountItem1,
    TransactionAmountItem2,
    TransactionAmountItem3,
    TransmissionEnd,
    TransmissionStart,
)

from chalicelib.billing.kid import kid_algorithms_of
from chalicelib.formats.ocr_values import (
    KidStatus,
    OcrAssignment,
    OcrFile,
    OcrRejectedError,
    OcrTransaction,
    Reason,
    content_hash,
)

RECORD_LENGTH = 80
MAX_REASONS = 50
OCR_SERVICE_CODE = "09"
TRANSACTION_TYPES = frozenset(range(10, 22))
REVERSAL_TYPES = frozenset({18, 20})
TEXT_TYPES = frozenset({20, 21})
# C0 and C1 control characters have no place in ISO-8859-1 text; line breaks are handled before.
_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_RECORD_NAMES = {
    "10": "transmission start",
    "20": "assignment start",
    "30": "amount item 1",
    "31": "amount item 2",
    "32": "amount item 3",
    "88": "assignment end",
    "89": "transmission end",
}


@dataclass
class _Collector:
    reasons: list[Reason] = field(default_factory=list)

    def add(self, code: str, message: str, line: int | None = None) -> None:
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(Reason(code, message, line))

    def raise_if_any(self) -> None:
        if self.reasons:
            raise OcrRejectedError(self.reasons)


def _lines(data: bytes, found: _Collector) -> list[str]:
    if not data.strip():
        found.add("empty", "the file is empty")
        found.raise_if_any()
    if _looks_like_utf8(data):
        found.add("not_latin1", "is UTF-8 encoded; OCR files are ISO-8859-1")
    text = data.decode("latin-1")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    for number, line in enumerate(lines, 1):
        if _CONTROL.search(line):
            found.add("not_latin1", "holds bytes that are not ISO-8859-1 text (control characters)", number)
        elif len(line) != RECORD_LENGTH:
            found.add("line_length", f"is {len(line)} characters long, not {RECORD_LENGTH}", number)
        elif not line.startswith("NY"):
            found.add("format_code", f"starts with {line[:2]!r}, not 'NY'", number)
        elif line[6:8] not in _RECORD_NAMES:
            found.add("record_type", f"has unknown record type {line[6:8]!r}", number)
        elif line[6:8] in ("10", "89") and line[2:6] != "0000":
            found.add("service_code", f"transmission records have service code 00, not {line[2:4]!r}", number)
        elif line[6:8] not in ("10", "89") and line[2:4] != OCR_SERVICE_CODE:
            found.add("service_code", f"service code {line[2:4]!r} is not OCR giro (09)", number)
        elif line[6:8] in ("30", "31", "32") and not _known_type(line[4:6]):
            found.add("transaction_type", f"has unknown transaction type {line[4:6]!r}", number)
    found.raise_if_any()
    return lines


def _looks_like_utf8(data: bytes) -> bool:
    # Latin-1 letters (æ ø å = E6 F8 E5) are never valid UTF-8 on their own; UTF-8's pairs are.
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _known_type(field_text: str) -> bool:
    return field_text.isascii() and field_text.isdigit() and int(field_text) in TRANSACTION_TYPES


def _item1(line: str) -> tuple[TransactionAmountItem1, str | None]:
    kid_field = line[49:74]
    if kid_field.endswith("-") and kid_field[:-1].strip().isdigit():
        # netsgiro's pattern has no room for MOD11's '-' check character.
        record = TransactionAmountItem1.from_string(line[:73] + "0" + line[74:])
        return record, kid_field.strip()
    record = TransactionAmountItem1.from_string(line)
    return record, record.kid


def _kid_status(kid: str | None) -> KidStatus:
    if kid is None:
        return KidStatus.MISSING
    return KidStatus.VALID if kid_algorithms_of(kid) else KidStatus.INVALID


@dataclass
class _OpenTransaction:
    item1: TransactionAmountItem1
    kid: str | None
    line: int
    item2: TransactionAmountItem2 | None = None
    item3: TransactionAmountItem3 | None = None


@dataclass
class _OpenAssignment:
    start: AssignmentStart
    line: int
    transactions: list[OcrTransaction] = field(default_factory=list)
    records: int = 1
    current: _OpenTransaction | None = None


_PARSERS: dict[str, Callable[[str], object]] = {
    "10": TransmissionStart.from_string,
    "20": AssignmentStart.from_string,
    "30": _item1,
    "31": TransactionAmountItem2.from_string,
    "32": TransactionAmountItem3.from_string,
    "88": AssignmentEnd.from_string,
    "89": TransmissionEnd.from_string,
}


def _record(line: str, number: int, found: _Collector) -> object | None:
    kind = line[6:8]
    try:
        return _PARSERS[kind](line)
    except (ValueError, TypeError) as error:
        detail = str(error).split(" did not match ")[0] if " did not match " in str(error) else str(error)
        found.add("malformed_record", f"is not a valid {_RECORD_NAMES[kind]} record ({detail[:80]})", number)
        return None


class _Parser:
    """Walks the records once, checking the nesting and building the transactions."""

    def __init__(self, found: _Collector) -> None:
        self.found = found
        self.start: TransmissionStart | None = None
        self.end: TransmissionEnd | None = None
        self.assignment: _OpenAssignment | None = None
        self.assignments: list[OcrAssignment] = []
        self.identities: set[str] = set()

    def feed(self, record: object, number: int) -> None:
        if self.end is not None:
            self.found.add("structure", "comes after the transmission end record", number)
        elif isinstance(record, TransmissionStart):
            self._transmission_start(record, number)
        elif self.start is None:
            self.found.add("structure", "the file must begin with a transmission start record", number)
        elif isinstance(record, AssignmentStart):
            self._assignment_start(record, number)
        elif isinstance(record, TransmissionEnd):
            self._transmission_end(record, number)
        elif self.assignment is None:
            self.found.add("structure", "a transaction or assignment end outside an assignment", number)
        elif isinstance(record, AssignmentEnd):
            self._assignment_end(record, number)
        else:
            self.assignment.records += 1
            self._transaction_record(record, number)

    def _transmission_start(self, record: TransmissionStart, number: int) -> None:
        if number != 1 or self.start is not None:
            self.found.add("structure", "a transmission start record may only be the first line", number)
            return
        self.start = record

    def _assignment_start(self, record: AssignmentStart, number: int) -> None:
        if self.assignment is not None:
            self.found.add("structure", "an assignment starts before the previous one ended", number)
        self.assignment = _OpenAssignment(record, number)

    def _transaction_record(self, record: object, number: int) -> None:
        assignment = self.assignment
        assert assignment is not None
        if isinstance(record, tuple):
            item1, kid = record
            self._close_transaction(number)
            assignment.current = _OpenTransaction(item1, kid, number)
            return
        current = assignment.current
        if current is None:
            self.found.add("structure", "an amount item 2 or 3 without amount item 1", number)
            return
        transaction_number = getattr(record, "transaction_number", None)
        if transaction_number != current.item1.transaction_number:
            self.found.add(
                "structure",
                f"transaction number {transaction_number} does not match its amount item 1 "
                f"({current.item1.transaction_number})",
                number,
            )
            return
        if getattr(record, "transaction_type", None) != current.item1.transaction_type:
            self.found.add("structure", "transaction type differs from its amount item 1", number)
            return
        if isinstance(record, TransactionAmountItem2):
            if current.item2 is not None:
                self.found.add("structure", "a second amount item 2 for one transaction", number)
            current.item2 = record
        elif isinstance(record, TransactionAmountItem3):
            if current.item2 is None or current.item3 is not None:
                self.found.add("structure", "amount item 3 must follow amount item 2, once", number)
            elif int(current.item1.transaction_type) not in TEXT_TYPES:
                self.found.add("structure", "only transaction types 20 and 21 have an amount item 3", number)
            current.item3 = record

    def _close_transaction(self, number: int) -> None:
        assignment = self.assignment
        if assignment is None or assignment.current is None:
            return
        current = assignment.current
        assignment.current = None
        if current.item2 is None:
            self.found.add("structure", "a transaction without its amount item 2", current.line)
            return
        item1, item2 = current.item1, current.item2
        transaction_type = int(item1.transaction_type)
        if transaction_type in TEXT_TYPES and current.item3 is None:
            self.found.add("structure", "transaction types 20 and 21 need an amount item 3", current.line)
            return
        negative = item1.sign == "-" or transaction_type in REVERSAL_TYPES
        transaction = OcrTransaction(
            agreement_id=assignment.start.agreement_id or "",
            assignment_number=assignment.start.assignment_number,
            account=assignment.start.assignment_account,
            transaction_number=int(item1.transaction_number),
            transaction_type=transaction_type,
            nets_date=item1.nets_date,
            amount=-int(item1.amount) if negative else int(item1.amount),
            kid=current.kid,
            kid_status=_kid_status(current.kid),
            archive_reference=item2.reference,
            form_number=item2.form_number,
            bank_date=item2.bank_date,
            debit_account=item2.debit_account,
            text=current.item3.text if current.item3 else None,
            centre_id=item1.centre_id,
            day_code=item1.day_code,
            partial_settlement_number=item1.partial_settlement_number,
            partial_settlement_serial_number=item1.partial_settlement_serial_number,
            line=current.line,
        )
        if transaction.identity in self.identities:
            self.found.add("duplicate_transaction", "reports the same transaction twice", current.line)
            return
        self.identities.add(transaction.identity)
        assignment.transactions.append(transaction)

    def _assignment_end(self, record: AssignmentEnd, number: int) -> None:
        assignment = self.assignment
        assert assignment is not None
        self._close_transaction(number)
        assignment.records += 1
        self.assignment = None
        if record.assignment_type != assignment.start.assignment_type:
            self.found.add("structure", "assignment end of another assignment type", number)
        count = len(assignment.transactions)
        amounts = [t.amount for t in assignment.transactions]
        if record.num_transactions != count:
            self.found.add(
                "assignment_count",
                f"assignment end says {record.num_transactions} transactions, the assignment has {count}",
                number,
            )
        if record.num_records != assignment.records:
            self.found.add(
                "assignment_records",
                f"assignment end says {record.num_records} records, the assignment has {assignment.records}",
                number,
            )
        total = record.total_amount or 0
        if total not in (sum(amounts), sum(abs(a) for a in amounts)):
            self.found.add(
                "assignment_sum",
                f"assignment end says a total of {total} øre, the transactions add up to {sum(amounts)}",
                number,
            )
        self.assignments.append(
            OcrAssignment(
                agreement_id=assignment.start.agreement_id or "",
                number=assignment.start.assignment_number,
                account=assignment.start.assignment_account,
                nets_date=record.nets_date,
                transactions=tuple(assignment.transactions),
                total_amount=sum(amounts),
            )
        )

    def _transmission_end(self, record: TransmissionEnd, number: int) -> None:
        if self.assignment is not None:
            self.found.add("structure", "the transmission ends inside an assignment", number)
            self.assignment = None
        self.end = record


def parse_ocr(data: bytes) -> OcrFile:
    """Parse and check an OCR giro file; raises :class:`OcrRejectedError` with every reason found."""
    found = _Collector()
    lines = _lines(data, found)
    parser = _Parser(found)
    for number, line in enumerate(lines, 1):
        record = _record(line, number, found)
        if record is not None:
            parser.feed(record, number)
    if parser.start is None and not found.reasons:
        found.add("structure", "the file has no transmission start record")
    if parser.end is None:
        found.add("truncated", "the file ends without a transmission end record (truncated?)")
    found.raise_if_any()
    assert parser.start is not None and parser.end is not None
    transactions = [t for a in parser.assignments for t in a.transactions]
    amounts = [t.amount for t in transactions]
    end = parser.end
    if end.num_transactions != len(transactions):
        found.add(
            "transmission_count",
            f"transmission end says {end.num_transactions} transactions, the file has {len(transactions)}",
            len(lines),
        )
    if end.num_records != len(lines):
        found.add(
            "transmission_records",
            f"transmission end says {end.num_records} records, the file has {len(lines)}",
            len(lines),
        )
    if end.total_amount not in (sum(amounts), sum(abs(a) for a in amounts)):
        found.add(
            "transmission_sum",
            f"transmission end says a total of {end.total_amount} øre, the transactions add up to "
            f"{sum(amounts)}",
            len(lines),
        )
    found.raise_if_any()
    return OcrFile(
        sha256=content_hash(data),
        transmission_number=parser.start.transmission_number,
        data_transmitter=parser.start.data_transmitter,
        data_recipient=parser.start.data_recipient,
        nets_date=end.nets_date,
        assignments=tuple(parser.assignments),
        record_count=len(lines),
        total_amount=sum(amounts),
    )
