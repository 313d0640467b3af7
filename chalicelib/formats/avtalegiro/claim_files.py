"""Claim and deletion files: built with netsgiro and checked before and after, and read back."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import netsgiro
from netsgiro.records import (
    AssignmentEnd,
    AssignmentStart,
    TransactionAmountItem1,
    TransactionAmountItem2,
    TransactionSpecification,
    TransmissionEnd,
    TransmissionStart,
)

from chalicelib.formats.avtalegiro.claims import (
    Claim,
    ClaimAssignment,
    ClaimTransmission,
    DueWindow,
    FileKind,
    check_transmission,
)
from chalicelib.formats.avtalegiro.records import Found, check_trailers, read_records, text_lines


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
    found = Found()
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
    :class:`~chalicelib.formats.avtalegiro.records.AvtaleGiroFileError`. Specification lines are rebuilt
    per line and column (netsgiro's ``to_text`` runs lines together when a line has only its first
    column)."""
    found = Found()
    lines = text_lines(data, found)
    records = read_records(lines, found)
    check_trailers(records, found)
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
    found: Found,
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


__all__ = ["ParsedClaimFile", "build_file", "parse_claim_file"]
