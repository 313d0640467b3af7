"""AvtaleGiro trailers: every assignment end and the transmission end must agree with the records they
close, and a file must open and close its transmission and its assignments."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.billing.kid import make_invoice_kid
from chalicelib.formats.avtalegiro.claim_files import build_file, parse_claim_file
from chalicelib.formats.avtalegiro.claims import (
    Claim,
    ClaimAssignment,
    ClaimTransmission,
    DueWindow,
    FileKind,
)
from chalicelib.formats.avtalegiro.records import AvtaleGiroFileError

WINDOW = DueWindow(date(2027, 3, 1), date(2028, 2, 1))
# An end record (assignment or transmission): 8 characters of record type, then these fields.
TRANSACTIONS = slice(8, 16)
RECORDS = slice(16, 24)
AMOUNT = slice(24, 41)


def lines() -> list[str]:
    claims = (
        Claim(make_invoice_kid(1, 10001, 1), date(2027, 3, 5), 29900, reference="Faktura 1"),
        Claim(make_invoice_kid(1, 10002, 2), date(2027, 3, 5), 34950, reference="Faktura 2"),
    )
    transmission = ClaimTransmission(
        number="7060001",
        data_transmitter="55555555",
        assignments=(ClaimAssignment("7060001", "000123456", "86011117947", claims),),
    )
    return build_file(transmission, FileKind.CLAIMS, WINDOW).decode("latin-1").splitlines()


def with_field(line: str, where: slice, value: int) -> str:
    width = where.stop - where.start
    return line[: where.start] + str(value).zfill(width) + line[where.stop :]


def problems(file_lines: list[str]) -> list[tuple[str, str | None]]:
    with pytest.raises(AvtaleGiroFileError) as error:
        parse_claim_file(("\n".join(file_lines) + "\n").encode("latin-1"))
    return [(problem.code, problem.where) for problem in error.value.problems]


@pytest.mark.parametrize(
    ("where", "code"),
    [(TRANSACTIONS, "assignment_count"), (RECORDS, "assignment_records"), (AMOUNT, "assignment_sum")],
)
def test_an_assignment_end_that_disagrees_with_its_assignment_is_refused(where: slice, code: str) -> None:
    file = lines()
    end = len(file) - 1
    file[end - 1] = with_field(file[end - 1], where, 7)
    assert problems(file) == [(code, f"line {end}")]


@pytest.mark.parametrize(
    ("where", "code"),
    [(TRANSACTIONS, "transmission_count"), (RECORDS, "transmission_records"), (AMOUNT, "transmission_sum")],
)
def test_a_transmission_end_that_disagrees_with_the_file_is_refused(where: slice, code: str) -> None:
    file = lines()
    file[-1] = with_field(file[-1], where, 7)
    assert problems(file) == [(code, f"line {len(file)}")]


def test_a_file_ending_inside_an_assignment_counts_only_the_assignments_that_ended() -> None:
    file = lines()
    del file[-2]  # the assignment end
    last = f"line {len(file)}"
    assert problems(file) == [
        ("structure", last),
        ("transmission_count", last),
        ("transmission_records", last),
        ("transmission_sum", last),
    ]


def test_a_second_assignment_start_before_the_first_ended_is_refused() -> None:
    file = lines()
    file.insert(2, file[1])  # the assignment starts twice: its end counts from the second start
    assert problems(file) == [("structure", "line 3"), ("transmission_records", f"line {len(file)}")]


def test_a_file_without_its_transmission_start_or_end_is_refused() -> None:
    assert [code for code, _ in problems(lines()[:-1])] == ["truncated"]
    assert problems(lines()[1:]) == [("structure", "line 1")]
