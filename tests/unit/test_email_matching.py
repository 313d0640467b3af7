"""E-mail addresses match whatever their case: one key decides, every lookup and block uses it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.customers.identifiers import (
    InvalidIdentifierError,
    email_match_key,
    email_match_keys,
    normalise_email,
)
from chalicelib.customers.models import Customer, CustomerType
from chalicelib.customers.service import CustomerService, new_customer_writes

NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


def _person(email: str) -> Customer:
    return Customer(
        id="cus_reader",
        number=10001,
        type=CustomerType.PERSON,
        name="Reader",
        email=email,
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(
    "typed",
    ["reader@example.no", "Reader@example.no", "READER@EXAMPLE.NO", "  rEaDeR@Example.No "],
)
def test_every_case_of_an_address_has_one_match_key(typed: str) -> None:
    assert email_match_key(typed) == "reader@example.no"


def test_the_address_itself_keeps_the_case_typed_before_the_at() -> None:
    assert normalise_email("Reader@Example.NO") == "Reader@example.no"


def test_an_address_with_capitals_is_also_looked_for_where_it_was_stored_before() -> None:
    # Lookups written before matching ignored case are keyed by the address as typed.
    assert email_match_keys("Reader@Example.NO") == ("reader@example.no", "Reader@example.no")
    assert email_match_keys("reader@example.no") == ("reader@example.no",)


def test_a_malformed_address_has_no_match_key() -> None:
    with pytest.raises(InvalidIdentifierError):
        email_match_key("Reader@")


@given(local=st.from_regex(r"[a-zA-Z0-9](?:[a-zA-Z0-9_+-]{0,20})", fullmatch=True))
def test_the_match_key_ignores_case_and_is_idempotent(local: str) -> None:
    key = email_match_key(f"{local}@Example.no")
    assert key == email_match_key(f"{local.swapcase()}@EXAMPLE.NO")
    assert email_match_key(key) == key


def test_a_new_customer_is_looked_up_by_the_match_key_and_shown_as_typed() -> None:
    customer = _person("Reader@example.no")
    pks = {item.pk for item in new_customer_writes(customer)}
    assert "EMAIL#reader@example.no" in pks
    assert "EMAIL#Reader@example.no" not in pks
    assert customer.email == "Reader@example.no"


def test_a_change_of_case_only_moves_no_lookup() -> None:
    current = _person("reader@example.no")
    updated = current.model_copy(update={"email": "Reader@example.no"})
    assert CustomerService._moves(current, updated) == []


def test_a_new_address_moves_the_lookup_and_removes_one_stored_as_typed_before() -> None:
    current = _person("Reader@example.no")
    updated = current.model_copy(update={"email": "Lukas@example.no"})
    moves = CustomerService._moves(current, updated)
    created = [(move.create.pk, move.create.sk) for move in moves if move.create is not None]
    deleted = [(move.delete.pk, move.delete.sk) for move in moves if move.delete is not None]
    assert created == [("EMAIL#lukas@example.no", "LOOKUP")]
    assert deleted == [("EMAIL#reader@example.no", "LOOKUP"), ("EMAIL#Reader@example.no", "LOOKUP")]
