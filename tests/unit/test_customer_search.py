"""Pure parts of customers: the name normalisation both orders and search use, what a search text is taken
to be, the items a new customer is written as, and access decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.customers.models import Customer, CustomerType
from chalicelib.customers.search import SearchKind, classify_search, normalise_name
from chalicelib.customers.service import new_customer_writes
from chalicelib.subscriptions.access import AccessDecision, decide
from chalicelib.subscriptions.models import AccessGrant


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        ("Kari Nordmann", "kari nordmann"),
        ("  Kari   NORDMANN\t", "kari nordmann"),
        ("Åse Ødegård", "åse ødegård"),
        ("ÆRØ Bakeri", "ærø bakeri"),
        ("Björn Söderström", "björn söderström"),
        ("José Müller-Lüdenscheidt", "jose muller-ludenscheidt"),
        ("Straße", "strasse"),
        ("A\u030ase", "åse"),  # a + combining ring is the same å
        ("François O'Brien", "francois o'brien"),
    ],
)
def test_normalise_name(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("kari@example.no", SearchKind.EMAIL, "kari@example.no"),
        (" Kari@Example.NO ", SearchKind.EMAIL, "Kari@Example.NO"),
        ("+47 412 34 567", SearchKind.PHONE, "+47 412 34 567"),
        ("+46 (8) 123-456", SearchKind.PHONE, "+46 (8) 123-456"),
        ("41234567", SearchKind.NUMBER, "41234567"),
        ("974 760 673", SearchKind.NUMBER, "974760673"),
        ("556036-0793", SearchKind.NUMBER, "5560360793"),
        ("10001", SearchKind.NUMBER, "10001"),
        ("Kari Nord", SearchKind.NAME, "kari nord"),
        ("Åse", SearchKind.NAME, "åse"),
        ("+47 abc", SearchKind.NAME, "+47 abc"),
        ("12 Kari", SearchKind.NAME, "12 kari"),
        ("١٢٣", SearchKind.NAME, "١٢٣"),  # Arabic-Indic digits are not a number we issue
    ],
)
def test_classify_search(text: str, kind: SearchKind, value: str) -> None:
    query = classify_search(text)
    assert (query.kind, query.value) == (kind, value)


def _customer(**changes: object) -> Customer:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    values: dict[str, object] = {
        "id": "cus_1",
        "number": 10001,
        "type": CustomerType.PERSON,
        "name": "Kari Nordmann",
        "email": "kari@example.no",
        "created_at": at,
        "updated_at": at,
    }
    return Customer.model_validate(values | changes)


def test_a_person_is_written_with_email_number_and_name_entries() -> None:
    items = new_customer_writes(_customer(phone="+4741234567"))
    rows = {(item.pk, item.sk): item for item in items}
    assert set(rows) == {
        ("CUSTOMER#cus_1", "PROFILE"),
        ("EMAIL#kari@example.no", "LOOKUP"),
        ("CUSTNO#10001", "LOOKUP"),
        ("CUSTOMER#cus_1", "NAME"),
        ("PHONE#+4741234567", "CUSTOMER#cus_1"),
    }
    assert rows[("CUSTOMER#cus_1", "PROFILE")].kind == "customer"
    name = rows[("CUSTOMER#cus_1", "NAME")]
    assert (name.gsi1pk, name.gsi1sk) == ("CUSTNAME#ka", "kari nordmann#cus_1")
    for key, item in rows.items():
        if key != ("CUSTOMER#cus_1", "PROFILE"):
            assert (item.target_pk, item.target_sk) == ("CUSTOMER#cus_1", "PROFILE")


def test_an_organisation_also_gets_its_number_lookup() -> None:
    items = new_customer_writes(
        _customer(type=CustomerType.ORGANIZATION, name="Åse Bakeri AS", org_number="974760673", country="NO")
    )
    keys = {(item.pk, item.sk) for item in items}
    assert ("ORG#NO#974760673", "LOOKUP") in keys
    assert not any(pk.startswith("PHONE#") for pk, _ in keys)
    name = next(item for item in items if item.sk == "NAME")
    assert (name.gsi1pk, name.gsi1sk) == ("CUSTNAME#ås", "åse bakeri as#cus_1")


def test_access_lasts_until_the_latest_grant_exclusive() -> None:
    grant = AccessGrant(
        customer_id="cus_1",
        product_id="prd_1",
        grants={"sub_1": date(2027, 2, 1), "sub_2": date(2027, 1, 15)},
    )
    assert decide(grant, date(2027, 1, 31), "cus_1") == AccessDecision(True, date(2027, 2, 1), "cus_1")
    assert decide(grant, date(2027, 2, 1), "cus_1") == AccessDecision(False, None, "cus_1")
    assert decide(None, date(2027, 1, 1), "cus_1") == AccessDecision(False, None, "cus_1")
    empty = AccessGrant(customer_id="cus_1", product_id="prd_1", grants={})
    assert decide(empty, date(2027, 1, 1), None) == AccessDecision(False, None, None)
