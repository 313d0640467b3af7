"""AvtaleGiro claim and deletion files: each rule, and every file read back by netsgiro."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import netsgiro
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
KID_1 = make_invoice_kid(1, 10001, 1)
KID_2 = make_invoice_kid(1, 10002, 2)


def transmission(*claims: Claim) -> ClaimTransmission:
    return ClaimTransmission(
        number="7060001",
        data_transmitter="55555555",
        assignments=(ClaimAssignment("7060001", "000123456", "86011117947", claims),),
    )


def good() -> tuple[Claim, Claim]:
    return (
        Claim(KID_1, date(2027, 3, 5), 29900, reference="Faktura 1 Avishuset", payer_name="cus_1"),
        Claim(
            KID_2,
            date(2027, 3, 8),
            34950,
            reference="Faktura 2 Avishuset",
            bank_notification=True,
            specification=("Avishuset AS", "Faktura 2  Forfall 08.03.2027", "Nordavisa  349,50 kr - æøå"),
        ),
    )


def problems(claims: tuple[Claim, ...], kind: FileKind = FileKind.CLAIMS) -> set[str]:
    with pytest.raises(AvtaleGiroFileError) as error:
        build_file(transmission(*claims), kind, WINDOW)
    return {problem.code for problem in error.value.problems}


def test_a_claim_file_reads_back_with_netsgiro_as_the_same_claims() -> None:
    data = build_file(transmission(*good()), FileKind.CLAIMS, WINDOW)
    lines = data.decode("latin-1").splitlines()
    assert all(len(line) == 80 for line in lines)
    parsed = netsgiro.parse(data.decode("latin-1"))
    requests = [t for t in parsed.assignments[0].transactions if isinstance(t, netsgiro.PaymentRequest)]
    assert [(r.kid, r.date, r.amount, r.reference) for r in requests] == [
        (KID_1, date(2027, 3, 5), Decimal("299.00"), "Faktura 1 Avishuset"),
        (KID_2, date(2027, 3, 8), Decimal("349.50"), "Faktura 2 Avishuset"),
    ]
    assert [int(r.type) for r in requests] == [2, 21]
    assert [line.rstrip() for line in (requests[1].text or "").splitlines()] == list(good()[1].specification)
    assert parse_claim_file(data).transmission == transmission(*good())


def test_trailers_count_records_transactions_and_sum() -> None:
    data = build_file(transmission(*good()), FileKind.CLAIMS, WINDOW)
    lines = data.decode("latin-1").splitlines()
    # 2 transmission + 2 assignment records, 2 + 2 amount items, 3 lines × 2 columns of specification.
    assert len(lines) == 14
    assignment_end, transmission_end = lines[-2], lines[-1]
    assert assignment_end[8:16] == "00000002" and assignment_end[16:24] == "00000012"
    assert int(assignment_end[24:41]) == 29900 + 34950
    assert transmission_end[8:16] == "00000002" and transmission_end[16:24] == "00000014"
    assert int(transmission_end[24:41]) == 64850


def test_the_file_is_iso_8859_1() -> None:
    data = build_file(transmission(*good()), FileKind.CLAIMS, WINDOW)
    assert "æøå".encode("latin-1") in data
    assert problems((replace(good()[0], reference="Faktura € 1"),)) == {"reference"}


def test_a_kid_must_have_a_mod10_check_digit() -> None:
    broken = KID_1[:-1] + str((int(KID_1[-1]) + 1) % 10)
    assert problems((replace(good()[0], kid=broken),)) == {"kid"}


def test_amounts_must_be_positive() -> None:
    assert problems((replace(good()[0], amount=0),)) == {"amount"}
    assert problems((replace(good()[0], amount=-100),)) == {"amount"}


def test_due_dates_must_be_inside_the_window() -> None:
    assert problems((replace(good()[0], due_date=date(2027, 2, 28)),)) == {"due_date"}
    assert problems((replace(good()[0], due_date=date(2028, 2, 2)),)) == {"due_date"}


def test_the_reference_is_at_most_25_characters() -> None:
    assert problems((replace(good()[0], reference="x" * 26),)) == {"reference"}
    build_file(transmission(replace(good()[0], reference="x" * 25)), FileKind.CLAIMS, WINDOW)


def test_at_most_42_specification_lines() -> None:
    lines = tuple(f"line {n}" for n in range(43))
    assert problems((replace(good()[1], specification=lines),)) == {"specification"}
    build_file(transmission(replace(good()[1], specification=lines[:42])), FileKind.CLAIMS, WINDOW)


def test_never_a_blank_specification_line() -> None:
    spec = ("Avishuset AS", "   ", "Total")
    assert problems((replace(good()[1], specification=spec),)) == {"blank_specification"}


def test_specification_lines_are_at_most_80_characters() -> None:
    assert problems((replace(good()[1], specification=("x" * 81,)),)) == {"specification"}


def test_specification_only_with_bank_notification() -> None:
    assert problems((replace(good()[0], specification=("text",)),)) == {"specification"}
    assert problems((replace(good()[1], specification=()),)) == {"specification"}


def test_a_kid_once_per_assignment_and_a_file_is_never_empty() -> None:
    assert problems((good()[0], good()[0])) == {"duplicate_kid"}
    assert problems(()) == {"empty"}


def test_every_problem_is_listed() -> None:
    bad = replace(good()[0], amount=0, reference="y" * 30, due_date=date(2020, 1, 1))
    assert problems((bad,)) == {"amount", "reference", "due_date"}


def test_a_deletion_file_has_the_claims_fields_and_reads_back() -> None:
    claims = good()
    data = build_file(transmission(*claims), FileKind.DELETIONS, WINDOW)
    parsed = netsgiro.parse(data.decode("latin-1"))
    assignment = parsed.assignments[0]
    assert assignment.type == netsgiro.AssignmentType.AVTALEGIRO_CANCELLATIONS
    transactions = [t for t in assignment.transactions if isinstance(t, netsgiro.PaymentRequest)]
    assert [int(t.type) for t in transactions] == [93, 93]
    assert [(t.kid, t.date, t.amount_in_cents, t.reference) for t in transactions] == [
        (c.kid, c.due_date, c.amount, c.reference) for c in claims
    ]
    back = parse_claim_file(data)
    assert back.kind == FileKind.DELETIONS and back.total_amount == 64850
    assert all(len(line) == 80 for line in data.decode("latin-1").splitlines())


def test_a_tampered_trailer_is_refused_on_reading() -> None:
    data = build_file(transmission(*good()), FileKind.CLAIMS, WINDOW).decode("latin-1").splitlines()
    data[-1] = data[-1][:24] + "00000000000099999" + data[-1][41:]
    with pytest.raises(AvtaleGiroFileError) as error:
        parse_claim_file(("\n".join(data) + "\n").encode("latin-1"))
    assert {p.code for p in error.value.problems} == {"transmission_sum"}
