"""KID generation and validation: MOD10 (Luhn) and MOD11, and the invoice KID layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.billing.kid import (
    DEFAULT_KID_LAYOUT,
    InvalidKidError,
    KidAlgorithm,
    KidLayout,
    KidParts,
    customer_number_in,
    is_valid_kid,
    kid_algorithms_of,
    kid_check_character,
    make_invoice_kid,
    make_kid,
)

MOD10 = KidAlgorithm.MOD10
MOD11 = KidAlgorithm.MOD11

base_digits = st.text(alphabet="0123456789", min_size=1, max_size=24)


@pytest.mark.parametrize(
    ("base", "kid"),
    [
        # From the right, double every second digit starting with the last base digit (digit sums of the
        # products): 7→14→5, 6, 5→10→1, 4, 3→6, 2, 1→2: sum 26; check (10 - 6) % 10 = 4.
        ("1234567", "12345674"),
        # 8→16→7, 7, 6→12→3, 5, 4→8, 3, 2→4, 1: sum 38; check 2.
        ("12345678", "123456782"),
        # 5→10→1, 4: sum 5; check 5.
        ("45", "455"),
        # 6→12→3: sum 3; check 7.
        ("6", "67"),
        # sum 0; check 0.
        ("0", "00"),
    ],
)
def test_mod10_kids_computed_by_hand(base: str, kid: str) -> None:
    assert make_kid(base, MOD10) == kid
    assert is_valid_kid(kid, MOD10)


@pytest.mark.parametrize(
    ("base", "kid"),
    [
        # Weights 2,3,4,5,6,7,2 from the right: 7·2 + 6·3 + 5·4 + 4·5 + 3·6 + 2·7 + 1·2 = 106;
        # 106 mod 11 = 7; check 11 - 7 = 4.
        ("1234567", "12345674"),
        # 8·2 + 7·3 + 6·4 + 5·5 + 4·6 + 3·7 + 2·2 + 1·3 = 138; 138 mod 11 = 6; check 5.
        ("12345678", "123456785"),
        # 5·2 + 4·3 = 22; 22 mod 11 = 0: remainder 0 gives check digit 0.
        ("45", "450"),
        # 6·2 = 12; 12 mod 11 = 1; 11 - 1 = 10, written "-".
        ("6", "6-"),
    ],
)
def test_mod11_kids_computed_by_hand(base: str, kid: str) -> None:
    assert make_kid(base, MOD11) == kid
    assert is_valid_kid(kid, MOD11)


def test_check_character_alone() -> None:
    assert kid_check_character("12345678", MOD10) == "2"
    assert kid_check_character("12345678", MOD11) == "5"


@pytest.mark.parametrize(
    ("kid", "algorithms"),
    [
        ("12345674", {MOD10, MOD11}),  # both checks happen to be 4
        ("123456782", {MOD10}),
        ("123456785", {MOD11}),
        ("123456783", set()),
        ("6-", {MOD11}),
    ],
)
def test_algorithms_of_a_kid(kid: str, algorithms: set[KidAlgorithm]) -> None:
    assert kid_algorithms_of(kid) == algorithms
    assert is_valid_kid(kid) == bool(algorithms)


@pytest.mark.parametrize(
    "kid",
    [
        "",
        "0",  # one character: below the 2-character minimum
        "1" * 25 + "0",  # 26 characters
        "12a45674",
        "1234567 4",
        "-6",
        "--",
        "١٢٣٤٥٦٧٤",  # Arabic-Indic digits: isdigit() but not a bank's digits
        "1234567X",
    ],
)
def test_malformed_kids_are_invalid_under_both_algorithms(kid: str) -> None:
    assert not is_valid_kid(kid, MOD10)
    assert not is_valid_kid(kid, MOD11)
    assert kid_algorithms_of(kid) == frozenset()


def test_mod10_kid_never_ends_in_a_dash() -> None:
    assert not is_valid_kid("6-", MOD10)


def test_longest_kid_is_25_characters() -> None:
    kid = make_kid("1" * 24, MOD10)
    assert len(kid) == 25
    assert is_valid_kid(kid)
    with pytest.raises(InvalidKidError):
        make_kid("1" * 25, MOD10)


@pytest.mark.parametrize("base", ["", "12a", "12 3", "-1", "١٢"])
def test_make_kid_rejects_bad_base(base: str) -> None:
    with pytest.raises(InvalidKidError):
        make_kid(base, MOD10)
    with pytest.raises(InvalidKidError):
        make_kid(base, MOD11)


@given(base=base_digits, algorithm=st.sampled_from(KidAlgorithm))
def test_made_kids_are_valid(base: str, algorithm: KidAlgorithm) -> None:
    kid = make_kid(base, algorithm)
    assert kid.startswith(base)
    assert len(kid) == len(base) + 1
    assert is_valid_kid(kid, algorithm)
    assert algorithm in kid_algorithms_of(kid)


@given(base=base_digits, algorithm=st.sampled_from(KidAlgorithm), data=st.data())
def test_any_single_digit_error_is_detected(base: str, algorithm: KidAlgorithm, data: st.DataObject) -> None:
    # Both algorithms catch every single-digit substitution in the base: Luhn by design, MOD11 because
    # 11 is prime and divides neither a weight (2..7) nor a digit difference (1..9).
    kid = make_kid(base, algorithm)
    position = data.draw(st.integers(min_value=0, max_value=len(base) - 1))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != base[position]]))
    mistyped = kid[:position] + wrong + kid[position + 1 :]
    assert not is_valid_kid(mistyped, algorithm)


def test_invoice_kid_default_layout() -> None:
    # Seller 7 → "0007", customer 42 → "00000042", invoice 1001 → "00001001"; Luhn over
    # "00070000004200001001", doubling every second digit from the right: 1→2, 0, 0, 1, 0, 0, 0, 0, 2→4,
    # 4, 0, 0, 0, 0, 0, 0, 7→14 (1 + 4 = 5), 0, 0, 0: sum 16; check 4.
    assert make_invoice_kid(7, 42, 1001) == "000700000042000010014"
    assert DEFAULT_KID_LAYOUT.length == 21
    assert DEFAULT_KID_LAYOUT.parse("000700000042000010014") == KidParts(
        seller_prefix=7, customer_number=42, invoice_number=1001
    )


def test_two_sellers_never_share_a_kid() -> None:
    # The same customer and the same invoice number with two sellers: the prefix tells them apart.
    assert make_invoice_kid(1, 10001, 1) != make_invoice_kid(2, 10001, 1)


def test_customer_number_in_reads_the_layout_and_nothing_else() -> None:
    assert customer_number_in(make_invoice_kid(3, 10042, 17)) == 10042
    assert customer_number_in("00000042000010019") is None  # another layout's KID
    assert customer_number_in(None) is None


def test_invoice_kid_mod11_layout() -> None:
    layout = KidLayout(seller_width=1, customer_width=4, invoice_width=3, algorithm=MOD11)
    # "2" + "0012" + "345" = "20012345": 5·2 + 4·3 + 3·4 + 2·5 + 1·6 + 0 + 0 + 2·3 = 56; 56 mod 11 = 1;
    # check 10, written "-".
    assert layout.make(2, 12, 345) == "20012345-"
    assert layout.parse("20012345-") == KidParts(2, 12, 345)


@pytest.mark.parametrize(
    ("seller", "customer", "invoice"),
    [(1, -1, 1), (1, 1, -1), (1, 100_000_000, 1), (1, 1, 100_000_000), (-1, 1, 1), (10_000, 1, 1)],
)
def test_invoice_kid_rejects_numbers_that_do_not_fit(seller: int, customer: int, invoice: int) -> None:
    with pytest.raises(InvalidKidError):
        make_invoice_kid(seller, customer, invoice)


@pytest.mark.parametrize(
    "kid",
    [
        "000700000042000010013",  # wrong check digit
        "00070000004200001001",  # one character short
        "0007000000420000100140",  # one character long
        "00000042000010019",  # a valid KID of the layout without a seller prefix
        "12345674",  # a valid KID, but not of this layout
    ],
)
def test_parse_rejects_kids_outside_the_layout(kid: str) -> None:
    with pytest.raises(InvalidKidError):
        DEFAULT_KID_LAYOUT.parse(kid)


@pytest.mark.parametrize(
    ("seller_width", "customer_width", "invoice_width"),
    [(0, 8, 8), (4, 0, 8), (4, 8, 0), (4, 10, 11)],  # 4 + 10 + 11 + 1 = 26 characters
)
def test_layout_must_fit_a_kid(seller_width: int, customer_width: int, invoice_width: int) -> None:
    with pytest.raises(ValueError, match="KID layout"):
        KidLayout(seller_width=seller_width, customer_width=customer_width, invoice_width=invoice_width)


@given(
    seller=st.integers(min_value=0, max_value=9_999),
    customer=st.integers(min_value=0, max_value=99_999_999),
    invoice=st.integers(min_value=0, max_value=99_999_999),
    algorithm=st.sampled_from(KidAlgorithm),
)
def test_invoice_kid_round_trips(seller: int, customer: int, invoice: int, algorithm: KidAlgorithm) -> None:
    layout = KidLayout(algorithm=algorithm)
    kid = layout.make(seller, customer, invoice)
    assert len(kid) == layout.length
    assert layout.parse(kid) == KidParts(seller, customer, invoice)
