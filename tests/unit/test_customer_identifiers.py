"""Organisation numbers, e-mail addresses and phone numbers: validated and normalised, offline."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.customers.identifiers import (
    InvalidIdentifierError,
    format_organisation_number,
    normalise_email,
    normalise_organisation_number,
    normalise_phone_number,
)
from chalicelib.errors import FieldError


@pytest.mark.parametrize(
    ("raw", "country", "digits"),
    [
        # Brønnøysundregistrene. Weights 3,2,7,6,5,4,3,2,1 (the last on the check digit) must give a
        # multiple of 11: 27 + 14 + 28 + 42 + 30 + 0 + 18 + 14 + 3 = 176 = 16 · 11.
        ("974760673", "NO", "974760673"),
        ("974 760 673", "NO", "974760673"),
        ("  988 077 917 ", "no", "988077917"),
        # Swedish organisationsnummer: 10 digits with a Luhn check; the hyphen is presentation.
        ("556036-0793", "SE", "5560360793"),
        ("202100-5489", "SE", "2021005489"),
        # Danish CVR: weights 2,7,6,5,4,3,2,1; a "DK" prefix is accepted and dropped.
        ("13585628", "DK", "13585628"),
        ("DK 24 25 67 90", "DK", "24256790"),
    ],
)
def test_valid_organisation_numbers_are_normalised(raw: str, country: str, digits: str) -> None:
    assert normalise_organisation_number(raw, country) == digits


def test_norway_is_the_default_country() -> None:
    assert normalise_organisation_number("974760673") == "974760673"


@pytest.mark.parametrize(
    ("raw", "country", "code"),
    [
        ("974760674", "NO", "invalid_checksum"),
        ("97476067", "NO", "invalid_length"),
        ("9747606730", "NO", "invalid_length"),
        ("97476067A", "NO", "invalid_format"),
        ("", "NO", "invalid_format"),
        ("5560360794", "SE", "invalid_checksum"),
        ("556036079", "SE", "invalid_length"),
        ("13585627", "DK", "invalid_checksum"),
        ("03585628", "DK", "invalid_format"),  # a CVR never starts with 0
        ("974760673", "FI", "unsupported_country"),
    ],
)
def test_invalid_organisation_numbers_name_the_broken_rule(raw: str, country: str, code: str) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        normalise_organisation_number(raw, country)
    assert caught.value.kind == "organisation_number"
    assert caught.value.code == code


def test_a_number_valid_in_one_country_is_not_in_another() -> None:
    with pytest.raises(InvalidIdentifierError):
        normalise_organisation_number("974760673", "SE")


@pytest.mark.parametrize(
    ("raw", "country", "printed"),
    [
        ("974760673", "NO", "974 760 673"),
        ("5560360793", "SE", "556036-0793"),
        ("DK13585628", "DK", "13585628"),
    ],
)
def test_organisation_numbers_are_formatted_for_print(raw: str, country: str, printed: str) -> None:
    assert format_organisation_number(raw, country) == printed


def test_the_error_is_a_value_error_that_becomes_a_field_error() -> None:
    with pytest.raises(ValueError, match="check digit") as caught:
        normalise_organisation_number("974760674", "NO")
    assert isinstance(caught.value, InvalidIdentifierError)
    assert caught.value.to_field_error("customer.organisation_number") == FieldError(
        field="customer.organisation_number",
        message="the check digit does not match (NO)",
        code="invalid_checksum",
    )


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("kari@example.no", "kari@example.no"),
        ("  Kari.Nordmann@Example.NO  ", "Kari.Nordmann@example.no"),
        ("ola+abo@mail.EXAMPLE.com", "ola+abo@mail.example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("åse@Blåbær.NO", "åse@blåbær.no"),
        ("x@a-b.co", "x@a-b.co"),
    ],
)
def test_email_addresses_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "kari",
        "kari@",
        "@example.no",
        "kari@example",  # a single label: no public mail domain
        "kari@@example.no",
        "kari@exa mple.no",
        "kari nordmann@example.no",
        ".kari@example.no",
        "kari.@example.no",
        "ka..ri@example.no",
        "kari@example..no",
        "kari@-example.no",
        "kari@example-.no",
        "kari@example.no.",
        "kari@exa_mple.no",
        "kari@192.168.0.1",
        "kari@[192.168.0.1]",
        "<kari@example.no>",
        "k" * 65 + "@example.no",
        "kari@" + "a" * 64 + ".no",
        "kari@" + ("a" * 60 + ".") * 5 + "no",  # longer than 254 characters
    ],
)
def test_malformed_email_addresses_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        normalise_email(raw)
    assert caught.value.kind == "email"
    assert caught.value.code == "invalid_format"


@given(
    local=st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9_+-]{0,20})", fullmatch=True),
    domain=st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,10}\.[a-zA-Z]{2,6}", fullmatch=True),
)
def test_email_normalisation_is_idempotent_and_lowercases_only_the_domain(local: str, domain: str) -> None:
    once = normalise_email(f"{local}@{domain}")
    assert once == f"{local}@{domain.lower()}"
    assert normalise_email(once) == once


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("412 34 567", "NO", "+4741234567"),  # Norwegian mobile, no country code
        ("22 22 22 22", "NO", "+4722222222"),  # Norwegian landline
        ("+47 412 34 567", "NO", "+4741234567"),
        ("0047 412 34 567", "NO", "+4741234567"),  # 00 is Norway's international prefix
        ("070-123 45 67", "SE", "+46701234567"),  # Swedish mobile: the trunk 0 is dropped
        ("+46 70 123 45 67", "NO", "+46701234567"),  # an explicit country code wins over the default
        ("32 12 34 56", "DK", "+4532123456"),
        ("(+47) 412-34-567", "no", "+4741234567"),
    ],
)
def test_phone_numbers_become_e164(raw: str, country: str, e164: str) -> None:
    assert normalise_phone_number(raw, country) == e164


def test_phone_numbers_default_to_norway() -> None:
    assert normalise_phone_number("41234567") == "+4741234567"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "invalid_format"),
        ("not a number", "invalid_format"),
        ("12345", "invalid_number"),  # too short for a Norwegian number
        ("412345678", "invalid_number"),  # nine digits: too long for a Norwegian number
        ("+47 012 34 567", "invalid_number"),
    ],
)
def test_invalid_phone_numbers_are_rejected(raw: str, code: str) -> None:
    with pytest.raises(InvalidIdentifierError) as caught:
        normalise_phone_number(raw)
    assert caught.value.kind == "phone_number"
    assert caught.value.code == code
