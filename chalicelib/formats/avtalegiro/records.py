"""What every AvtaleGiro file shares: its problems, its lines of 80-character records, and its trailers'
counts and sums."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from netsgiro.records import (
    AssignmentEnd,
    AssignmentStart,
    Record,
    TransactionAmountItem1,
    TransmissionEnd,
    TransmissionStart,
)
from netsgiro.records import parse as parse_records

RECORD_LENGTH = 80
MAX_PROBLEMS = 50
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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
class Found:
    """The problems found so far (at most :data:`MAX_PROBLEMS`), raised together."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, code: str, message: str, where: str | None = None) -> None:
        """Note a problem."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(code, message, where))

    def raise_if_any(self) -> None:
        """Raise :class:`AvtaleGiroFileError` if anything was found."""
        if self.problems:
            raise AvtaleGiroFileError(self.problems)


def content_hash(data: bytes) -> str:
    """A file's identity: the SHA-256 of its bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def latin1(text: str) -> bool:
    """Whether ``text`` is ISO-8859-1 on one line (no control characters)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return not CONTROL.search(text)


def text_lines(data: bytes, found: Found) -> list[str]:
    """A file's lines, each checked to be an 80-character ISO-8859-1 record starting with 'NY'."""
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
        if CONTROL.search(line):
            found.add("not_latin1", "holds control characters", f"line {number}")
        elif len(line) != RECORD_LENGTH:
            found.add("line_length", f"is {len(line)} characters long, not {RECORD_LENGTH}", f"line {number}")
        elif not line.startswith("NY"):
            found.add("format_code", f"starts with {line[:2]!r}, not 'NY'", f"line {number}")
    found.raise_if_any()
    return lines


def read_records(lines: list[str], found: Found) -> list[Record]:
    """netsgiro's records of ``lines``; a file it cannot read is a ``malformed_record`` problem."""
    try:
        records: list[Record] = parse_records("\n".join(lines))
    except (ValueError, KeyError, TypeError) as error:
        found.add("malformed_record", f"netsgiro cannot read the file ({str(error)[:120]})")
        found.raise_if_any()
        raise AssertionError("unreachable") from error
    return records


@dataclass
class _Assignment:
    """An assignment being walked: its first line, its transaction numbers and their amounts."""

    start_line: int
    numbers: set[int] = field(default_factory=set)
    amount: int = 0


def check_trailers(records: list[Record], found: Found) -> None:
    """Counts (and sums, where there are amounts) of every assignment end and the transmission end."""
    if not records or not isinstance(records[0], TransmissionStart):
        found.add("structure", "the file must begin with a transmission start record", "line 1")
        return
    end = records[-1]
    if not isinstance(end, TransmissionEnd):
        found.add("truncated", "the file ends without a transmission end record (truncated?)")
        return
    transactions, amount = _check_assignments(records, found)
    _check_transmission_end(end, len(records), transactions, amount, found)


def _check_assignments(records: list[Record], found: Found) -> tuple[int, int]:
    """Walk the records between the transmission's start and end; the transactions and amount of every
    assignment that ended properly."""
    all_transactions = 0
    all_amount = 0
    current: _Assignment | None = None
    for index, record in enumerate(records[1:-1], 2):
        if isinstance(record, AssignmentStart):
            if current is not None:
                found.add("structure", "an assignment starts before the previous one ended", f"line {index}")
            current = _Assignment(start_line=index)
        elif isinstance(record, AssignmentEnd):
            if current is None:
                found.add("structure", "an assignment end outside an assignment", f"line {index}")
                continue
            _check_assignment_end(record, current, index, found)
            all_transactions += len(current.numbers)
            all_amount += current.amount
            current = None
        elif current is None:
            found.add("structure", "a transaction outside an assignment", f"line {index}")
        else:
            current.numbers.add(int(getattr(record, "transaction_number", 0)))
            if isinstance(record, TransactionAmountItem1):
                current.amount += record.amount
    if current is not None:
        found.add("structure", "the transmission ends inside an assignment", f"line {len(records)}")
    return all_transactions, all_amount


def _check_assignment_end(record: AssignmentEnd, assignment: _Assignment, index: int, found: Found) -> None:
    records_in = index - assignment.start_line + 1
    if record.num_transactions != len(assignment.numbers):
        found.add(
            "assignment_count",
            f"assignment end says {record.num_transactions} transactions, the assignment has "
            f"{len(assignment.numbers)}",
            f"line {index}",
        )
    if record.num_records != records_in:
        found.add(
            "assignment_records",
            f"assignment end says {record.num_records} records, the assignment has {records_in}",
            f"line {index}",
        )
    if (record.total_amount or 0) != assignment.amount:
        found.add(
            "assignment_sum",
            f"assignment end says {record.total_amount or 0} øre, the transactions add up to "
            f"{assignment.amount}",
            f"line {index}",
        )


def _check_transmission_end(
    end: TransmissionEnd, record_count: int, transactions: int, amount: int, found: Found
) -> None:
    where = f"line {record_count}"
    if end.num_transactions != transactions:
        found.add(
            "transmission_count",
            f"transmission end says {end.num_transactions} transactions, the file has {transactions}",
            where,
        )
    if end.num_records != record_count:
        found.add(
            "transmission_records",
            f"transmission end says {end.num_records} records, the file has {record_count}",
            where,
        )
    if end.total_amount != amount:
        found.add(
            "transmission_sum",
            f"transmission end says {end.total_amount} øre, the transactions add up to {amount}",
            where,
        )


__all__ = [
    "AvtaleGiroFileError",
    "Found",
    "Problem",
    "check_trailers",
    "content_hash",
    "latin1",
    "read_records",
    "text_lines",
]
