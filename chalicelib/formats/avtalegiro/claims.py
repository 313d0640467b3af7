"""Claim and deletion files' content (assignment types 00 and 36), and the rules it must follow before a
file is built from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from stdnum import luhn

from chalicelib.formats.avtalegiro.records import Found, latin1

NETS_ID = "00008080"
MAX_SPECIFICATION_LINES = 42
MAX_SPECIFICATION_LINE = 80
MAX_REFERENCE = 25
MAX_PAYER_NAME = 10
MAX_AMOUNT = 10**17 - 1


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


def valid_kid(kid: str) -> bool:
    """A KID AvtaleGiro accepts from us: 2 to 25 digits with a MOD10 (Luhn) check digit."""
    return 2 <= len(kid) <= 25 and kid.isascii() and kid.isdigit() and luhn.is_valid(kid)


def check_transmission(transmission: ClaimTransmission, kind: FileKind, window: DueWindow | None) -> None:
    """Check a file's content before it is built; raises
    :class:`~chalicelib.formats.avtalegiro.records.AvtaleGiroFileError`."""
    found = Found()
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
        _check_assignment(assignment, window, kind, found)
    found.raise_if_any()


def _check_assignment(
    assignment: ClaimAssignment, window: DueWindow | None, kind: FileKind, found: Found
) -> None:
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
        where = f"{label} claim {position} (KID {claim.kid})"
        _check_payment(claim, where, window, found)
        _check_texts(claim, where, found)
        if kind == FileKind.CLAIMS:  # a deletion names the claim; the bank's notice text is not sent again
            _check_specification(claim, where, found)


def _check_payment(claim: Claim, where: str, window: DueWindow | None, found: Found) -> None:
    """The KID, the amount and the due date."""
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


def _check_texts(claim: Claim, where: str, found: Found) -> None:
    """The reference and the payer name (netsgiro would pad or truncate them)."""
    if claim.reference is not None:
        if len(claim.reference) > MAX_REFERENCE:
            found.add("reference", f"the reference is {len(claim.reference)} characters, at most 25", where)
        if not latin1(claim.reference):
            found.add("reference", "the reference must be ISO-8859-1 text on one line", where)
        if claim.reference != claim.reference.strip():
            found.add("reference", "the reference must not begin or end with blanks", where)
    if claim.payer_name is not None and (
        len(claim.payer_name) > MAX_PAYER_NAME
        or not latin1(claim.payer_name)
        or claim.payer_name != claim.payer_name.strip()
    ):
        found.add("payer_name", "the payer name is at most 10 ISO-8859-1 characters, unpadded", where)


def _check_specification(claim: Claim, where: str, found: Found) -> None:
    """A claim's specification lines: only with bank notification (type 21), and then 1 to 42 of them."""
    lines = claim.specification
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
        elif not latin1(line):
            found.add("specification", f"specification line {number} is not ISO-8859-1 text", where)


__all__ = [
    "Claim",
    "ClaimAssignment",
    "ClaimTransmission",
    "DueWindow",
    "FileKind",
    "check_transmission",
    "valid_kid",
]
