"""The OCR giro adapter: what it accepts, what it rejects whole (with readable reasons), and that no
input makes it crash with anything but its own rejection."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.billing.kid import KidAlgorithm, make_kid
from chalicelib.formats.ocr import parse_ocr
from chalicelib.formats.ocr_values import KidStatus, OcrRejectedError, transaction_rejection
from chalicelib.money import MAX_AMOUNT
from tests.support.ocr import Paid, ocr_file

GOOD_KID = make_kid("1000100000001", KidAlgorithm.MOD10)
BAD_KID = GOOD_KID[:-1] + str((int(GOOD_KID[-1]) + 1) % 10)


def reasons(data: bytes) -> list[str]:
    with pytest.raises(OcrRejectedError) as rejected:
        parse_ocr(data)
    return [reason.code for reason in rejected.value.reasons]


def lines_of(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def joined(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def test_a_generated_file_parses_with_amounts_kids_and_identities() -> None:
    # Given a file of three payments, one of them a reversal and one without KID
    data = ocr_file([Paid(GOOD_KID, 29900), Paid(GOOD_KID, -29900), Paid(None, 100)])
    # When it is parsed
    parsed = parse_ocr(data)
    # Then amounts are signed øre and each transaction has its own identity
    assert [t.amount for t in parsed.transactions] == [29900, -29900, 100]
    assert [t.kid_status for t in parsed.transactions] == [
        KidStatus.VALID,
        KidStatus.VALID,
        KidStatus.MISSING,
    ]
    assert parsed.transactions[1].is_reversal
    assert len({t.identity for t in parsed.transactions}) == 3
    assert parsed.transactions[0].nets_date == date(2027, 1, 5)
    assert parsed.total_amount == 100
    assert parsed.record_count == 10


def test_crlf_line_endings_and_a_missing_final_newline_are_fine() -> None:
    data = ocr_file([Paid(GOOD_KID, 100)])
    assert parse_ocr(data.replace(b"\n", b"\r\n")).transactions[0].amount == 100
    assert parse_ocr(data.rstrip(b"\n")).transactions[0].amount == 100


def test_a_bad_check_digit_is_reported_per_transaction_not_as_a_rejection() -> None:
    parsed = parse_ocr(ocr_file([Paid(BAD_KID, 100), Paid(GOOD_KID, 200)]))
    assert [t.kid_status for t in parsed.transactions] == [KidStatus.INVALID, KidStatus.VALID]


def test_a_mod11_kid_ending_in_dash_is_read_back() -> None:
    kid = next(k for k in (make_kid(f"{n:06d}", KidAlgorithm.MOD11) for n in range(1000)) if k.endswith("-"))
    data = ocr_file([Paid("1" * len(kid), 100)])
    data = data.replace(("1" * len(kid)).encode(), kid.encode())
    parsed = parse_ocr(data)
    assert parsed.transactions[0].kid == kid
    assert parsed.transactions[0].kid_status == KidStatus.VALID


def test_avtalegiro_settlements_are_known() -> None:
    parsed = parse_ocr(ocr_file([Paid(GOOD_KID, 100, transaction_type=15)]))
    assert parsed.transactions[0].is_avtalegiro


@pytest.mark.parametrize("amount", [MAX_AMOUNT + 1, -(MAX_AMOUNT + 1), 10**16])
def test_an_amount_beyond_the_bound_is_left_out_of_the_import_not_the_file(amount: int) -> None:
    parsed = parse_ocr(ocr_file([Paid(GOOD_KID, 12900), Paid(GOOD_KID, amount), Paid(GOOD_KID, MAX_AMOUNT)]))
    assert [t.amount for t in parsed.transactions] == [12900, amount, MAX_AMOUNT]
    assert [t.amount for t in parsed.importable] == [12900, MAX_AMOUNT]
    [(transaction, reason)] = parsed.rejections
    assert transaction.amount == amount
    assert (reason.code, reason.line) == ("amount_out_of_bounds", transaction.line)
    assert transaction_rejection(parsed.transactions[0]) is None


def test_an_empty_file_is_rejected() -> None:
    assert reasons(b"") == ["empty"]
    assert reasons(b"\n\n  \n") == ["empty"]


def test_a_truncated_file_is_rejected() -> None:
    data = ocr_file([Paid(GOOD_KID, 100), Paid(GOOD_KID, 200)])
    assert "truncated" in reasons(joined(lines_of(data)[:-1]))
    assert "truncated" in reasons(joined(lines_of(data)[:5]))
    assert reasons(data[:-30]) == ["line_length"]


def test_wrong_trailer_counts_and_sums_are_rejected() -> None:
    data = ocr_file([Paid(GOOD_KID, 100), Paid(GOOD_KID, 200)])
    lines = lines_of(data)
    end = lines[-1].decode("latin-1")
    assignment_end = lines[-2].decode("latin-1")
    count = end[:8] + "00000003" + end[16:]
    records = end[:16] + "00000099" + end[24:]
    total = end[:24] + f"{301:017d}" + end[41:]
    assert reasons(joined([*lines[:-1], count.encode()])) == ["transmission_count"]
    assert reasons(joined([*lines[:-1], records.encode()])) == ["transmission_records"]
    assert reasons(joined([*lines[:-1], total.encode()])) == ["transmission_sum"]
    wrong = assignment_end[:24] + f"{299:017d}" + assignment_end[41:]
    assert reasons(joined([*lines[:-2], wrong.encode(), lines[-1]])) == ["assignment_sum"]
    wrong = assignment_end[:8] + "00000001" + assignment_end[16:]
    assert reasons(joined([*lines[:-2], wrong.encode(), lines[-1]])) == ["assignment_count"]


def test_wrong_line_lengths_are_rejected_with_the_line_number() -> None:
    lines = lines_of(ocr_file([Paid(GOOD_KID, 100)]))
    lines[2] = lines[2] + b" "
    with pytest.raises(OcrRejectedError) as rejected:
        parse_ocr(joined(lines))
    assert [(r.code, r.line) for r in rejected.value.reasons] == [("line_length", 3)]
    assert "line 3: is 81 characters long, not 80" in str(rejected.value)


def test_unknown_record_and_transaction_types_are_rejected() -> None:
    lines = lines_of(ocr_file([Paid(GOOD_KID, 100)]))
    unknown_record = [*lines[:3], lines[3][:6] + b"33" + lines[3][8:], *lines[4:]]
    assert reasons(joined(unknown_record)) == ["record_type"]
    unknown_type = [line[:4] + b"99" + line[6:] if line[6:8] in (b"30", b"31") else line for line in lines]
    assert set(reasons(joined(unknown_type))) == {"transaction_type"}


def test_non_latin1_bytes_are_rejected() -> None:
    lines = lines_of(ocr_file([Paid(GOOD_KID, 100, transaction_type=21)]))
    text_line = next(i for i, line in enumerate(lines) if line[6:8] == b"32")
    utf8 = lines[text_line].replace(b"Betaling", "Betalinø".encode())
    assert set(reasons(joined([*lines[:text_line], utf8, *lines[text_line + 1 :]]))) == {
        "not_latin1",
        "line_length",
    }
    control = lines[text_line].replace(b"Betaling", b"Beta\x85ing")
    assert reasons(joined([*lines[:text_line], control, *lines[text_line + 1 :]])) == ["not_latin1"]
    latin1 = lines[text_line].replace(b"Betaling", "Bøtaling".encode("latin-1"))
    assert (
        parse_ocr(joined([*lines[:text_line], latin1, *lines[text_line + 1 :]])).transactions[0].text
        == "Bøtaling"
    )


def test_an_avtalegiro_claims_file_is_not_an_ocr_file() -> None:
    from tests.support.ocr import SAMPLE

    claims = (SAMPLE.parent / "avtalegiro_payment_request.txt").read_bytes()
    assert "service_code" in reasons(claims)


def test_structure_errors_are_rejected() -> None:
    lines = lines_of(ocr_file([Paid(GOOD_KID, 100), Paid(GOOD_KID, 200)]))
    swapped = [lines[0], lines[1], lines[3], lines[2], *lines[4:]]
    assert "structure" in reasons(joined(swapped))
    assert "structure" in reasons(joined([lines[1], *lines])) or reasons(joined([lines[1], *lines]))
    duplicated = [*lines[:4], lines[2], lines[3], *lines[4:]]
    assert set(reasons(joined(duplicated))) & {"duplicate_transaction", "assignment_count"}


VALID = ocr_file([Paid(GOOD_KID, 29900), Paid(BAD_KID, 100), Paid(None, 5000, 21), Paid(GOOD_KID, -100)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_fuzz_random_bytes_never_crash(data: bytes) -> None:
    try:
        parse_ocr(data)
    except OcrRejectedError as rejected:
        assert rejected.reasons
        assert all(str(reason) for reason in rejected.reasons)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(VALID) - 1),
            st.sampled_from(["flip", "delete", "insert", "digit"]),
            st.integers(0, 255),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_fuzz_mutated_files_are_parsed_or_rejected_never_crash(mutations: list[tuple[int, str, int]]) -> None:
    data = bytearray(VALID)
    for where, how, value in mutations:
        position = where % max(len(data), 1)
        if how == "flip":
            data[position] = value
        elif how == "delete":
            del data[position]
        elif how == "insert":
            data.insert(position, value)
        else:
            data[position] = ord("0") + value % 10
    try:
        parsed = parse_ocr(bytes(data))
    except OcrRejectedError as rejected:
        assert rejected.reasons
        return
    assert sum(t.amount for t in parsed.transactions) == parsed.total_amount


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, len(VALID.split(b"\n")) - 2), min_size=1, max_size=4))
def test_fuzz_shuffled_and_dropped_lines_are_rejected_or_consistent(picks: list[int]) -> None:
    lines = lines_of(VALID)
    kept = [line for index, line in enumerate(lines) if index not in set(picks)]
    try:
        parsed = parse_ocr(joined(kept))
    except OcrRejectedError:
        return
    assert len(parsed.transactions) == 4
