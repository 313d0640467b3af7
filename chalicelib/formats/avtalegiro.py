"""AvtaleGiro files (service code 21): mandates from Nets, claims and deletions to Nets, around ``netsgiro``.

``netsgiro`` reads and writes the records; this module checks what it does not. Mandate files: ISO-8859-1
text of 80-character records, assignment type 24, and trailer counts that agree with the records. Claim
and deletion files are checked before they are built (KID MOD10, positive amounts, due dates inside the
window, a reference of at most 25 characters, at most 42 specification lines of at most 80 characters and
none blank, numbers of the right width) and after (every record 80 characters, ISO-8859-1, trailer
counts and sums, and the file read back gives exactly the claims that went in). Anything wrong raises
:class:`AvtaleGiroFileError` listing every problem found.

netsgiro's sharp edges, handled here: it pads a reference longer than 25 characters into a record longer
than 80; it writes a blank specification line without complaint; it truncates the payer name silently;
a cancellation assignment must not carry the agreement id (its record pattern has zeros there); its
``TransactionSpecification.to_text`` joins lines wrongly when a line has only its first column; it
cannot write a transmission without transactions; and ``get_minimum_due_date`` reads the hour of
whatever ``datetime`` it is given (see :mod:`chalicelib.avtalegiro.window`).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

import netsgiro
from netsgiro.records import (
    AssignmentEnd,
    AssignmentStart,
    AvtaleGiroAgreement,
    Record,
    TransactionAmountItem1,
    TransactionAmountItem2,
    TransactionSpecification,
    TransmissionEnd,
    TransmissionStart,
)
from netsgiro.records import parse as parse_records
from stdnum import luhn

RECORD_LENGTH = 80
NETS_ID = "00008080"
MAX_SPECIFICATION_LINES = 42
MAX_SPECIFICATION_LINE = 80
MAX_REFERENCE = 25
MAX_PAYER_NAME = 10
MAX_AMOUNT = 10**17 - 1
MAX_PROBLEMS = 50
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong: a code, a message, and where (a line of a file or a claim), if known."""

    code: str
    message: str
    where: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class AvtaleGiroFileError(ValueError):
    """A file cannot be read or built; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems[:5]))


@dataclass
class _Found:
    problems: list[Problem] = field(default_factory=list)

    def add(self, code: str, message: str, where: str | None = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(code, message, where))

    def raise_if_any(self) -> None:
        if self.problems:
            raise AvtaleGiroFileError(self.problems)


# ---- mandates ----------------------------------------------------------------------------------------


class MandateRegistration(StrEnum):
    """What a mandate record says (Nets' registration type 0, 1, 2)."""

    FULL_LIST = "full_list"
    NEW_OR_CHANGED = "new_or_changed"
    DELETED = "deleted"


_REGISTRATIONS = {
    netsgiro.AvtaleGiroRegistrationType.ACTIVE_AGREEMENT: MandateRegistration.FULL_LIST,
    netsgiro.AvtaleGiroRegistrationType.NEW_OR_UPDATED_AGREEMENT: MandateRegistration.NEW_OR_CHANGED,
    netsgiro.AvtaleGiroRegistrationType.DELETED_AGREEMENT: MandateRegistration.DELETED,
}


@dataclass(frozen=True)
class MandateRecord:
    """One payer's mandate as Nets reports it: the KID, new/changed/deleted, and written notice (J/N)."""

    kid: str
    registration: MandateRegistration
    notify: bool
    number: int

    @property
    def active(self) -> bool:
        """A full-list or new/changed record leaves the mandate active; a deleted one ends it."""
        return self.registration != MandateRegistration.DELETED


@dataclass(frozen=True)
class MandateFile:
    """A parsed and checked mandate file."""

    sha256: str
    transmission_number: str
    data_transmitter: str
    data_recipient: str
    mandates: tuple[MandateRecord, ...]


def content_hash(data: bytes) -> str:
    """A file's identity: the SHA-256 of its bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def _text_lines(data: bytes, found: _Found) -> list[str]:
    if not data.strip():
        found.add("empty", "the file is empty")
        found.raise_if_any()
    if not data.isascii():
        try:
            data.decode("utf-8")
            found.add("not_latin1", "is UTF-8 encoded; Nets files are ISO-8859-1")
        except UnicodeDecodeError:
            pass
    lines = data.decode("latin-1").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    for number, line in enumerate(lines, 1):
        if _CONTROL.search(line):
            found.add("not_latin1", "holds control characters", f"line {number}")
        elif len(line) != RECORD_LENGTH:
            found.add("line_length", f"is {len(line)} characters long, not {RECORD_LENGTH}", f"line {number}")
        elif not line.startswith("NY"):
            found.add("format_code", f"starts with {line[:2]!r}, not 'NY'", f"line {number}")
    found.raise_if_any()
    return lines


def _records(lines: list[str], found: _Found) -> list[Record]:
    try:
        records: list[Record] = parse_records("\n".join(lines))
    except (ValueError, KeyError, TypeError) as error:
        found.add("malformed_record", f"netsgiro cannot read the file ({str(error)[:120]})")
        found.raise_if_any()
        raise AssertionError("unreachable") from error
    return records


def _check_trailers(records: list[Record], found: _Found) -> None:  # noqa: PLR0912 - one walk, every trailer
    """Counts (and sums, where there are amounts) of every assignment end and the transmission end."""
    if not records or not isinstance(records[0], TransmissionStart):
        found.add("structure", "the file must begin with a transmission start record", "line 1")
        return
    if not isinstance(records[-1], TransmissionEnd):
        found.add("truncated", "the file ends without a transmission end record (truncated?)")
        return
    all_transactions = 0
    all_amount = 0
    start_line = 0
    numbers: set[int] = set()
    amount = 0
    open_assignment = False
    for index, record in enumerate(records[1:-1], 2):
        if isinstance(record, AssignmentStart):
            if open_assignment:
                found.add("structure", "an assignment starts before the previous one ended", f"line {index}")
            open_assignment, start_line, numbers, amount = True, index, set(), 0
        elif isinstance(record, AssignmentEnd):
            if not open_assignment:
                found.add("structure", "an assignment end outside an assignment", f"line {index}")
                continue
            open_assignment = False
            records_in = index - start_line + 1
            if record.num_transactions != len(numbers):
                found.add(
                    "assignment_count",
                    f"assignment end says {record.num_transactions} transactions, the assignment has "
                    f"{len(numbers)}",
                    f"line {index}",
                )
            if record.num_records != records_in:
                found.add(
                    "assignment_records",
                    f"assignment end says {record.num_records} records, the assignment has {records_in}",
                    f"line {index}",
                )
            if (record.total_amount or 0) != amount:
                found.add(
                    "assignment_sum",
                    f"assignment end says {record.total_amount or 0} øre, the transactions add up to "
                    f"{amount}",
                    f"line {index}",
                )
            all_transactions += len(numbers)
            all_amount += amount
        elif not open_assignment:
            found.add("structure", "a transaction outside an assignment", f"line {index}")
        else:
            numbers.add(int(getattr(record, "transaction_number", 0)))
            if isinstance(record, TransactionAmountItem1):
                amount += record.amount
    if open_assignment:
        found.add("structure", "the transmission ends inside an assignment", f"line {len(records)}")
    end = records[-1]
    if end.num_transactions != all_transactions:
        found.add(
            "transmission_count",
            f"transmission end says {end.num_transactions} transactions, the file has {all_transactions}",
            f"line {len(records)}",
        )
    if end.num_records != len(records):
        found.add(
            "transmission_records",
            f"transmission end says {end.num_records} records, the file has {len(records)}",
            f"line {len(records)}",
        )
    if end.total_amount != all_amount:
        found.add(
            "transmission_sum",
            f"transmission end says {end.total_amount} øre, the transactions add up to {all_amount}",
            f"line {len(records)}",
        )


def parse_mandates(data: bytes) -> MandateFile:
    """Parse and check a mandate file from Nets; raises :class:`AvtaleGiroFileError`."""
    found = _Found()
    lines = _text_lines(data, found)
    records = _records(lines, found)
    _check_trailers(records, found)
    for index, record in enumerate(records, 1):
        if isinstance(record, AssignmentStart) and (
            record.assignment_type != netsgiro.AssignmentType.AVTALEGIRO_AGREEMENTS
        ):
            found.add("assignment_type", "is not a mandate assignment (type 24)", f"line {index}")
        elif isinstance(record, AvtaleGiroAgreement) and not record.kid:
            found.add("missing_kid", "a mandate without a KID", f"line {index}")
    found.raise_if_any()
    start = records[0]
    assert isinstance(start, TransmissionStart)
    mandates = tuple(
        MandateRecord(
            kid=record.kid or "",
            registration=_REGISTRATIONS[record.registration_type],
            notify=record.notify,
            number=record.transaction_number,
        )
        for record in records
        if isinstance(record, AvtaleGiroAgreement)
    )
    return MandateFile(
        sha256=content_hash(data),
        transmission_number=start.transmission_number,
        data_transmitter=start.data_transmitter,
        data_recipient=start.data_recipient,
        mandates=mandates,
    )


# ---- claims and deletions ----------------------------------------------------------------------------


class FileKind(StrEnum):
    """A claim file (assignment type 00) or a deletion file (assignment type 36)."""

    CLAIMS = "claims"
    DELETIONS = "deletions"


@dataclass(frozen=True)
class DueWindow:
    """The due dates a file sent now may carry, both ends included."""

    earliest: date
    latest: date

    def contains(self, day: date) -> bool:
        """Whether ``day`` is inside the window."""
        return self.earliest <= day <= self.latest


@dataclass(frozen=True)
class Claim:
    """One claim (or the deletion of one): type 21 when the bank notifies the payer with the
    ``specification`` lines, else type 02 (we notify). Amounts in øre."""

    kid: str
    due_date: date
    amount: int
    reference: str | None = None
    payer_name: str | None = None
    bank_notification: bool = False
    specification: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimAssignment:
    """The claims of one Nets agreement (9 digits) to one account (11 digits)."""

    number: str
    agreement_id: str
    account: str
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class ClaimTransmission:
    """A whole file: our data transmitter id (8 digits) to Nets."""

    number: str
    data_transmitter: str
    assignments: tuple[ClaimAssignment, ...]
    data_recipient: str = NETS_ID


def _digits(value: str, width: int) -> bool:
    return len(value) == width and value.isascii() and value.isdigit()


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not _CONTROL.search(text)


def valid_kid(kid: str) -> bool:
    """A KID AvtaleGiro accepts from us: 2 to 25 digits with a MOD10 (Luhn) check digit."""
    return 2 <= len(kid) <= 25 and kid.isascii() and kid.isdigit() and luhn.is_valid(kid)


def _check_claim(  # noqa: PLR0912 - one branch per rule of the spec
    claim: Claim, where: str, window: DueWindow | None, kind: FileKind, found: _Found
) -> None:
    if not valid_kid(claim.kid):
        found.add("kid", f"KID {claim.kid!r} is not 2-25 digits with a MOD10 check digit", where)
    if not 0 < claim.amount <= MAX_AMOUNT:
        found.add("amount", f"amount {claim.amount} øre must be positive and fit 17 digits", where)
    if window is not None and not window.contains(claim.due_date):
        found.add(
            "due_date",
            f"due date {claim.due_date} is outside {window.earliest} … {window.latest}",
            where,
        )
    if claim.reference is not None:
        if len(claim.reference) > MAX_REFERENCE:
            found.add("reference", f"the reference is {len(claim.reference)} characters, at most 25", where)
        if not _latin1(claim.reference):
            found.add("reference", "the reference must be ISO-8859-1 text on one line", where)
        if claim.reference != claim.reference.strip():
            found.add("reference", "the reference must not begin or end with blanks", where)
    if claim.payer_name is not None and (
        len(claim.payer_name) > MAX_PAYER_NAME
        or not _latin1(claim.payer_name)
        or claim.payer_name != claim.payer_name.strip()
    ):
        found.add("payer_name", "the payer name is at most 10 ISO-8859-1 characters, unpadded", where)
    lines = claim.specification
    if kind == FileKind.DELETIONS:
        return  # a deletion names the claim; the bank's notice text is not sent again
    if not claim.bank_notification:
        if lines:
            found.add("specification", "specification lines go only with bank notification (type 21)", where)
        return
    if not lines:
        found.add("specification", "a bank notification (type 21) needs specification lines", where)
    if len(lines) > MAX_SPECIFICATION_LINES:
        found.add("specification", f"{len(lines)} specification lines, at most 42", where)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            found.add("blank_specification", f"specification line {number} is blank", where)
        elif len(line) > MAX_SPECIFICATION_LINE:
            found.add("specification", f"specification line {number} is {len(line)} characters", where)
        elif not _latin1(line):
            found.add("specification", f"specification line {number} is not ISO-8859-1 text", where)


def check_transmission(transmission: ClaimTransmission, kind: FileKind, window: DueWindow | None) -> None:
    """Check a file's content before it is built; raises :class:`AvtaleGiroFileError`."""
    found = _Found()
    if not _digits(transmission.number, 7):
        found.add("transmission_number", "the transmission number is 7 digits")
    if not _digits(transmission.data_transmitter, 8):
        found.add("data_transmitter", "the data transmitter is 8 digits")
    if not _digits(transmission.data_recipient, 8):
        found.add("data_recipient", "the data recipient is 8 digits")
    if not any(assignment.claims for assignment in transmission.assignments):
        found.add("empty", "a file needs at least one claim")
    numbers = [assignment.number for assignment in transmission.assignments]
    if len(set(numbers)) != len(numbers):
        found.add("assignment_number", "assignment numbers repeat within the file")
    for assignment in transmission.assignments:
        label = f"assignment {assignment.number}"
        if not _digits(assignment.number, 7):
            found.add("assignment_number", "the assignment number is 7 digits", label)
        if not _digits(assignment.agreement_id, 9):
            found.add("agreement_id", "the agreement id is 9 digits", label)
        if not _digits(assignment.account, 11):
            found.add("account", "the account is 11 digits", label)
        if not assignment.claims:
            found.add("empty", "an assignment needs at least one claim", label)
        kids = [claim.kid for claim in assignment.claims]
        if len(set(kids)) != len(kids):
            found.add("duplicate_kid", "a KID is claimed twice in one assignment", label)
        for position, claim in enumerate(assignment.claims, 1):
            _check_claim(claim, f"{label} claim {position} (KID {claim.kid})", window, kind, found)
    found.raise_if_any()


def _netsgiro_transmission(transmission: ClaimTransmission, kind: FileKind) -> netsgiro.Transmission:
    built = netsgiro.Transmission(
        number=transmission.number,
        data_transmitter=transmission.data_transmitter,
        data_recipient=transmission.data_recipient,
    )
    for assignment in transmission.assignments:
        target = built.add_assignment(
            service_code=netsgiro.ServiceCode.AVTALEGIRO,
            assignment_type=(
                netsgiro.AssignmentType.TRANSACTIONS
                if kind == FileKind.CLAIMS
                else netsgiro.AssignmentType.AVTALEGIRO_CANCELLATIONS
            ),
            # netsgiro's cancellation record pattern has zeros where the agreement id would be.
            agreement_id=assignment.agreement_id if kind == FileKind.CLAIMS else None,
            number=assignment.number,
            account=assignment.account,
        )
        for claim in assignment.claims:
            fields = {
                "kid": claim.kid,
                "due_date": claim.due_date,
                "amount": Decimal(claim.amount).scaleb(-2),
                "reference": claim.reference,
                "payer_name": claim.payer_name,
            }
            if kind == FileKind.CLAIMS:
                text = "\n".join(claim.specification) if claim.bank_notification else False
                target.add_payment_request(**fields, bank_notification=text)  # type: ignore[arg-type]
            else:
                target.add_payment_cancellation(**fields)  # type: ignore[arg-type]
    return built


def build_file(transmission: ClaimTransmission, kind: FileKind, window: DueWindow | None) -> bytes:
    """Build a claim or deletion file with netsgiro, checked before and after; ISO-8859-1 bytes with one
    80-character record per line. ``window`` None skips the due-date check (a deletion's own deadline is
    checked by the caller)."""
    check_transmission(transmission, kind, window)
    text = _netsgiro_transmission(transmission, kind).to_ocr() + "\n"
    found = _Found()
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError as error:
        found.add("not_latin1", f"the file is not ISO-8859-1 ({error.reason})")
        found.raise_if_any()
        raise
    parsed = parse_claim_file(data)
    expected = _normalised(transmission, kind)
    if parsed.kind != kind or parsed.transmission != expected:
        found.add("roundtrip", "the built file does not read back as the claims it was built from")
    found.raise_if_any()
    return data


def _normalised(transmission: ClaimTransmission, kind: FileKind) -> ClaimTransmission:
    """What a file can say about ``transmission``: cancellations carry no agreement id and no text."""
    if kind == FileKind.CLAIMS:
        return transmission
    return ClaimTransmission(
        number=transmission.number,
        data_transmitter=transmission.data_transmitter,
        data_recipient=transmission.data_recipient,
        assignments=tuple(
            ClaimAssignment(
                number=a.number,
                agreement_id="000000000",
                account=a.account,
                claims=tuple(
                    Claim(
                        kid=c.kid,
                        due_date=c.due_date,
                        amount=c.amount,
                        reference=c.reference,
                        payer_name=c.payer_name,
                    )
                    for c in a.claims
                ),
            )
            for a in transmission.assignments
        ),
    )


@dataclass(frozen=True)
class ParsedClaimFile:
    """A claim or deletion file read back."""

    kind: FileKind
    transmission: ClaimTransmission
    record_count: int
    total_amount: int


def parse_claim_file(data: bytes) -> ParsedClaimFile:
    """Read a claim or deletion file, checking records, nesting and trailers; raises
    :class:`AvtaleGiroFileError`. Specification lines are rebuilt per line and column (netsgiro's
    ``to_text`` runs lines together when a line has only its first column)."""
    found = _Found()
    lines = _text_lines(data, found)
    records = _records(lines, found)
    _check_trailers(records, found)
    found.raise_if_any()
    start = records[0]
    assert isinstance(start, TransmissionStart)
    kinds: set[FileKind] = set()
    assignments: list[ClaimAssignment] = []
    current: AssignmentStart | None = None
    items: dict[int, dict[str, object]] = {}
    specs: dict[int, dict[int, dict[int, str]]] = defaultdict(lambda: defaultdict(dict))
    for index, record in enumerate(records, 1):
        if isinstance(record, AssignmentStart):
            current, items, specs = record, {}, defaultdict(lambda: defaultdict(dict))
            if record.service_code != netsgiro.ServiceCode.AVTALEGIRO:
                found.add("service_code", "is not an AvtaleGiro assignment", f"line {index}")
            elif record.assignment_type == netsgiro.AssignmentType.TRANSACTIONS:
                kinds.add(FileKind.CLAIMS)
            elif record.assignment_type == netsgiro.AssignmentType.AVTALEGIRO_CANCELLATIONS:
                kinds.add(FileKind.DELETIONS)
            else:
                found.add("assignment_type", "is neither claims (00) nor deletions (36)", f"line {index}")
        elif isinstance(record, TransactionAmountItem1):
            items.setdefault(record.transaction_number, {})["item1"] = record
        elif isinstance(record, TransactionAmountItem2):
            items.setdefault(record.transaction_number, {})["item2"] = record
        elif isinstance(record, TransactionSpecification):
            specs[record.transaction_number][record.line_number][record.column_number] = str(
                record.text or ""
            )
        elif isinstance(record, AssignmentEnd) and current is not None:
            assignments.append(_assignment(current, items, specs, found))
            current = None
        elif not isinstance(record, TransmissionStart | TransmissionEnd):
            found.add("record_type", f"a {type(record).__name__} has no place here", f"line {index}")
    if len(kinds) > 1:
        found.add("structure", "a file holds either claims or deletions, not both")
    found.raise_if_any()
    end = records[-1]
    assert isinstance(end, TransmissionEnd)
    return ParsedClaimFile(
        kind=kinds.pop() if kinds else FileKind.CLAIMS,
        transmission=ClaimTransmission(
            number=start.transmission_number,
            data_transmitter=start.data_transmitter,
            data_recipient=start.data_recipient,
            assignments=tuple(assignments),
        ),
        record_count=len(records),
        total_amount=end.total_amount,
    )


def _assignment(
    start: AssignmentStart,
    items: dict[int, dict[str, object]],
    specs: dict[int, dict[int, dict[int, str]]],
    found: _Found,
) -> ClaimAssignment:
    claims: list[Claim] = []
    for number, parts in items.items():
        item1, item2 = parts.get("item1"), parts.get("item2")
        if not isinstance(item1, TransactionAmountItem1) or not isinstance(item2, TransactionAmountItem2):
            found.add("structure", f"transaction {number} lacks amount item 1 or 2")
            continue
        bank = item1.transaction_type == netsgiro.TransactionType.AVTALEGIRO_WITH_BANK_NOTIFICATION
        by_line = specs.get(number, {})
        lines = tuple(
            "".join(by_line[line].get(column, "") for column in (1, 2)).rstrip() for line in sorted(by_line)
        )
        claims.append(
            Claim(
                kid=item1.kid or "",
                due_date=item1.nets_date,
                amount=item1.amount,
                reference=item2.reference,
                payer_name=item2.payer_name,
                bank_notification=bank,
                specification=lines,
            )
        )
    return ClaimAssignment(
        number=start.assignment_number,
        agreement_id=start.agreement_id or "000000000",
        account=start.assignment_account,
        claims=tuple(claims),
    )


__all__ = [
    "AvtaleGiroFileError",
    "Claim",
    "ClaimAssignment",
    "ClaimTransmission",
    "DueWindow",
    "FileKind",
    "MandateFile",
    "MandateRecord",
    "MandateRegistration",
    "ParsedClaimFile",
    "Problem",
    "build_file",
    "check_transmission",
    "content_hash",
    "parse_claim_file",
    "parse_mandates",
    "valid_kid",
]
