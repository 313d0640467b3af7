"""Customers over HTTP: search by every kind of key, read, change with moved lookups, history and a
``customer.updated`` event for each seller, lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from chalicelib.customers.models import Customer
from chalicelib.events import Event, EventType
from chalicelib.store import keys
from chalicelib.store.documents import document_item
from infra.awscalls import count_aws_requests
from tests.support.customers import (
    customer_client,
    make_customer,
    make_invoice,
    make_legal_entity,
    make_subscription,
)
from tests.support.events import recorded_events


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with customer_client() as client:
        yield client


@pytest.fixture
def kari(services: Services) -> Customer:
    return make_customer(
        services.documents,
        ident="cus_kari",
        number=10001,
        name="Kari Nordmann",
        email="kari@example.no",
        phone="+4741234567",
    )


@pytest.fixture
def bakery(services: Services) -> Customer:
    return make_customer(
        services.documents,
        ident="cus_bakery",
        number=10002,
        name="Åse Bakeri AS",
        email="post@bakeri.no",
        org_number="974760673",
    )


def search(api: Client, admin: dict[str, str], q: str, **params: str) -> list[str]:
    response = api.http.get(f"/v1/customers?{_query({'q': q, **params})}", headers=admin)
    assert response.status_code == 200, response.body
    return [item["id"] for item in response.json_body["items"]]


def _query(params: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(params)


def patch(api: Client, admin: dict[str, str], customer_id: str, body: object) -> Any:
    return api.http.patch(f"/v1/customers/{customer_id}", headers=admin, body=json.dumps(body))


def history(api: Client, admin: dict[str, str], customer_id: str) -> list[dict[str, Any]]:
    response = api.http.get(f"/v1/customers/{customer_id}/history", headers=admin)
    assert response.status_code == 200, response.body
    return [change["changes"] for change in response.json_body["items"]]


def customer_updates() -> list[Event]:
    """Every ``customer.updated`` recorded so far."""
    return [event for event in recorded_events() if event.type is EventType.CUSTOMER_UPDATED]


# ---- search ------------------------------------------------------------------------------------------


def test_search_finds_by_email_phone_and_numbers(
    api: Client, admin: dict[str, str], services: Services, kari: Customer, bakery: Customer
) -> None:
    entity = make_legal_entity(services.documents)
    make_invoice(services.documents, kari, entity, ident="inv_1", number=1001, kid="100010010003")
    assert search(api, admin, "kari@example.no") == ["cus_kari"]
    assert search(api, admin, " kari@EXAMPLE.no ") == ["cus_kari"]  # the domain is not case-sensitive
    assert search(api, admin, "+47 412 34 567") == ["cus_kari"]
    assert search(api, admin, "41234567") == ["cus_kari"]  # a Norwegian number without +47
    assert search(api, admin, "10001") == ["cus_kari"]  # customer number
    assert search(api, admin, "1001") == ["cus_kari"]  # invoice number
    assert search(api, admin, "100010010003") == ["cus_kari"]  # KID
    assert search(api, admin, "974760673") == ["cus_bakery"]  # organisation number
    assert search(api, admin, "974 760 673") == ["cus_bakery"]
    assert search(api, admin, "10002") == ["cus_bakery"]
    assert search(api, admin, "post@bakeri.no") == ["cus_bakery"]


def test_search_finds_nothing_for_unknown_values(api: Client, admin: dict[str, str], kari: Customer) -> None:
    for q in ("nobody@example.no", "kari@", "+47 999 99 999", "99999", "xy", "kari nordmannsen"):
        assert search(api, admin, q) == [], q


def test_search_by_name_prefix_ignores_case_and_spacing(
    api: Client, admin: dict[str, str], services: Services, kari: Customer, bakery: Customer
) -> None:
    make_customer(
        services.documents, ident="cus_jose", number=10003, name="José Müller", email="jose@example.es"
    )
    assert search(api, admin, "kar") == ["cus_kari"]
    assert search(api, admin, "KARI  nord") == ["cus_kari"]
    assert search(api, admin, "Kari Nordmann") == ["cus_kari"]
    assert search(api, admin, "åse") == ["cus_bakery"]
    assert search(api, admin, "ÅSE BAK") == ["cus_bakery"]
    assert search(api, admin, "ase") == []  # å is a letter of its own, not an accented a
    assert search(api, admin, "jose mu") == ["cus_jose"]
    assert search(api, admin, "josé mü") == ["cus_jose"]


def test_search_by_name_returns_at_most_limit_in_name_order(
    api: Client, admin: dict[str, str], services: Services
) -> None:
    for number, name in ((10011, "Ola Nordmann"), (10012, "Ola Hansen"), (10013, "Olav Berg")):
        make_customer(
            services.documents, ident=f"cus_{number}", number=number, name=name, email=f"{number}@x.no"
        )
    assert search(api, admin, "ola") == ["cus_10012", "cus_10011", "cus_10013"]
    assert search(api, admin, "ola n", limit="5") == ["cus_10011"]
    assert search(api, admin, "ola ") == [
        "cus_10012",
        "cus_10011",
        "cus_10013",
    ]  # surrounding spaces are trimmed
    assert search(api, admin, "ola", limit="1") == ["cus_10012"]


def test_a_name_search_is_served_by_one_index_query_and_one_batch_get(
    api: Client, admin: dict[str, str], services: Services, kari: Customer
) -> None:
    services.customers.search("ka", 5)  # warm the connection
    with count_aws_requests() as counter:
        assert [c.id for c in services.customers.search("kari", 5)] == ["cus_kari"]
    assert counter.by_operation() == {"dynamodb.Query": 1, "dynamodb.BatchGetItem": 1}


def test_search_needs_a_usable_query(api: Client, admin: dict[str, str]) -> None:
    for params in ("", "q=", "q=k", f"q={'a' * 201}", "q=kari&limit=0", "q=kari&limit=101", "q=kari&x=1"):
        response = api.http.get(f"/v1/customers?{params}", headers=admin)
        assert response.status_code == 422, params
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json_body["errors"], params


# ---- read --------------------------------------------------------------------------------------------


def test_reads_a_customer(api: Client, admin: dict[str, str], bakery: Customer) -> None:
    response = api.http.get("/v1/customers/cus_bakery", headers=admin)
    assert response.status_code == 200
    assert response.json_body == {
        "id": "cus_bakery",
        "number": 10002,
        "type": "organization",
        "name": "Åse Bakeri AS",
        "email": "post@bakeri.no",
        "phone": None,
        "address": None,
        "org_number": "974760673",
        "country": "NO",
        "language": "nb",
        "email_opt_out": False,
        "sms_opt_out": False,
        "created_at": "2026-12-01T09:00:00Z",
        "updated_at": "2026-12-01T09:00:00Z",
    }


def test_unknown_customers_are_404(api: Client, admin: dict[str, str]) -> None:
    for path in ("", "/history", "/subscriptions", "/invoices"):
        response = api.http.get(f"/v1/customers/cus_nobody{path}", headers=admin)
        assert response.status_code == 404, path
        assert response.json_body["type"].endswith("/not-found")
    assert patch(api, admin, "cus_nobody", {"name": "X"}).status_code == 404


def test_customer_routes_need_the_admin_token(api: Client, kari: Customer) -> None:
    for path in ("/v1/customers?q=kari", "/v1/customers/cus_kari", "/v1/customers/cus_kari/history"):
        assert api.http.get(path).status_code == 401


# ---- change ------------------------------------------------------------------------------------------


def test_changing_the_email_moves_its_lookup_and_records_history(
    api: Client, admin: dict[str, str], kari: Customer
) -> None:
    response = patch(api, admin, "cus_kari", {"email": " kari.nordmann@EXAMPLE.no "})
    assert response.status_code == 200, response.body
    assert response.json_body["email"] == "kari.nordmann@example.no"
    assert response.json_body["updated_at"] == "2027-01-01T08:00:00Z"
    assert search(api, admin, "kari@example.no") == []
    assert search(api, admin, "kari.nordmann@example.no") == ["cus_kari"]
    assert history(api, admin, "cus_kari") == [
        {"email": {"from": "kari@example.no", "to": "kari.nordmann@example.no"}}
    ]
    change = api.http.get("/v1/customers/cus_kari/history", headers=admin).json_body["items"][0]
    assert (change["at"], change["source"]) == ("2027-01-01T08:00:00Z", "admin")


def test_another_persons_email_is_409_and_changes_nothing(
    api: Client, admin: dict[str, str], services: Services, kari: Customer
) -> None:
    make_customer(
        services.documents, ident="cus_ola", number=10005, name="Ola Nordmann", email="ola@example.no"
    )
    response = patch(api, admin, "cus_kari", {"email": "ola@example.no", "name": "Kari N"})
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "e-mail address belongs to another customer" in response.json_body["detail"]
    assert [error["field"] for error in response.json_body["errors"]] == ["email"]
    assert api.http.get("/v1/customers/cus_kari", headers=admin).json_body["name"] == "Kari Nordmann"
    assert search(api, admin, "kari@example.no") == ["cus_kari"]
    assert search(api, admin, "ola@example.no") == ["cus_ola"]
    assert search(api, admin, "kari n") == ["cus_kari"]
    assert history(api, admin, "cus_kari") == []
    assert customer_updates() == []


def test_a_person_may_share_an_email_with_an_organisation(
    api: Client, admin: dict[str, str], kari: Customer, bakery: Customer
) -> None:
    # A sole proprietor's own address is often also the business's invoice address.
    response = patch(api, admin, "cus_kari", {"email": "post@bakeri.no"})
    assert response.status_code == 200
    assert sorted(search(api, admin, "post@bakeri.no")) == ["cus_bakery", "cus_kari"]
    assert search(api, admin, "kari@example.no") == []


def test_another_organisations_number_is_409(
    api: Client, admin: dict[str, str], services: Services, bakery: Customer
) -> None:
    make_customer(
        services.documents,
        ident="cus_other",
        number=10009,
        name="Other AS",
        email="o@x.no",
        org_number="923609016",
    )
    response = patch(api, admin, "cus_other", {"org_number": "974 760 673"})
    assert response.status_code == 409
    assert [error["field"] for error in response.json_body["errors"]] == ["org_number"]
    assert search(api, admin, "923609016") == ["cus_other"]


def test_changing_name_phone_and_org_number_moves_their_entries(
    api: Client, admin: dict[str, str], bakery: Customer
) -> None:
    body = {"name": "Bakeriet Åse AS", "phone": "22 33 44 55", "org_number": "923 609 016", "language": "en"}
    response = patch(api, admin, "cus_bakery", body)
    assert response.status_code == 200, response.body
    view = response.json_body
    assert (view["name"], view["phone"], view["org_number"], view["language"]) == (
        "Bakeriet Åse AS",
        "+4722334455",
        "923609016",
        "en",
    )
    assert search(api, admin, "åse") == []
    assert search(api, admin, "bakeriet") == ["cus_bakery"]
    assert search(api, admin, "+4722334455") == ["cus_bakery"]
    assert search(api, admin, "974760673") == []
    assert search(api, admin, "923609016") == ["cus_bakery"]
    assert history(api, admin, "cus_bakery") == [
        {
            "name": {"from": "Åse Bakeri AS", "to": "Bakeriet Åse AS"},
            "phone": {"from": None, "to": "+4722334455"},
            "org_number": {"from": "974760673", "to": "923609016"},
            "language": {"from": "nb", "to": "en"},
        }
    ]


def test_null_removes_a_phone_and_address(api: Client, admin: dict[str, str], kari: Customer) -> None:
    address = {"line1": "Storgata 1", "postal_code": "0155", "city": "Oslo"}
    assert patch(api, admin, "cus_kari", {"address": address}).status_code == 200
    response = patch(api, admin, "cus_kari", {"phone": None, "address": None})
    assert response.status_code == 200, response.body
    assert (response.json_body["phone"], response.json_body["address"]) == (None, None)
    assert search(api, admin, "+4741234567") == []
    full = {"line1": "Storgata 1", "line2": None, "postal_code": "0155", "city": "Oslo", "country": "NO"}
    assert history(api, admin, "cus_kari") == [
        {"address": {"from": None, "to": full}},
        {"phone": {"from": "+4741234567", "to": None}, "address": {"from": full, "to": None}},
    ]


def test_a_change_to_the_same_values_writes_nothing(
    api: Client, admin: dict[str, str], services: Services, kari: Customer
) -> None:
    with count_aws_requests() as counter:
        response = patch(api, admin, "cus_kari", {"email": "kari@EXAMPLE.NO", "phone": "+47 41234567"})
    assert response.status_code == 200
    assert response.json_body["updated_at"] == "2026-12-01T09:00:00Z"
    assert counter.count("dynamodb", "TransactWriteItems") == 0
    assert history(api, admin, "cus_kari") == []
    assert customer_updates() == []


def test_invalid_changes_are_422_and_change_nothing(
    api: Client, admin: dict[str, str], kari: Customer, bakery: Customer
) -> None:
    cases: list[tuple[str, object, str]] = [
        ("cus_kari", {}, "(root)"),
        ("cus_kari", {"email": "not an email"}, "email"),
        ("cus_kari", {"phone": "12"}, "phone"),
        ("cus_kari", {"name": None}, "name"),
        ("cus_kari", {"name": "   "}, "name"),
        ("cus_kari", {"email": None}, "email"),
        ("cus_kari", {"language": "de"}, "language"),
        ("cus_kari", {"org_number": "974760673"}, "org_number"),  # a person has none
        ("cus_kari", {"number": 5}, "number"),
        ("cus_kari", {"name": 5}, "name"),
        ("cus_bakery", {"org_number": "974760674"}, "org_number"),  # wrong check digit
        ("cus_bakery", {"org_number": None}, "org_number"),
        ("cus_kari", [], "(root)"),
    ]
    for customer_id, body, field in cases:
        response = patch(api, admin, customer_id, body)
        assert response.status_code == 422, (body, response.body)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert field in [error["field"] for error in response.json_body["errors"]], (body, response.body)
    assert history(api, admin, "cus_kari") == []
    assert history(api, admin, "cus_bakery") == []
    assert customer_updates() == []


def test_a_change_records_customer_updated_for_each_seller_with_the_changed_fields(
    api: Client, admin: dict[str, str], services: Services, kari: Customer
) -> None:
    # Given a customer of two sellers (two subscriptions of one, one of the other)
    make_subscription(services.documents, kari, ident="sub_1", plan_ids=["pln_list"])
    main = make_subscription(services.documents, kari, ident="sub_2", plan_ids=["pln_list"])
    other = main.model_copy(update={"id": "sub_3", "legal_entity_id": "ent_other"})
    key = keys.subscription(other.id, kari.id, other.created_at)
    services.documents.write([document_item("subscription", key, other, status=other.status)], [])
    # When the name and phone change, and the e-mail is sent as it is
    body = {"name": "Kari Nordmann-Berg", "phone": "+47 99887766", "email": "kari@example.no"}
    assert patch(api, admin, "cus_kari", body).status_code == 200
    # Then each seller has one customer.updated naming the fields that changed
    updates = customer_updates()
    assert sorted((event.legal_entity_id, dict(event.data)) for event in updates) == [
        (entity, {"customer_id": "cus_kari", "fields": ["name", "phone"]})
        for entity in ("ent_main", "ent_other")
    ]
    assert {event.occurred_at.isoformat() for event in updates} == {"2027-01-01T08:00:00+00:00"}
    # And sending the same values again records nothing more
    assert patch(api, admin, "cus_kari", body).status_code == 200
    assert customer_updates() == updates


# ---- lists -------------------------------------------------------------------------------------------


def test_lists_subscriptions_and_invoices(
    api: Client, admin: dict[str, str], services: Services, kari: Customer, bakery: Customer
) -> None:
    make_subscription(services.documents, kari, ident="sub_1", plan_ids=["pln_campaign", "pln_list"])
    make_subscription(services.documents, kari, ident="sub_2", plan_ids=["pln_list"])
    entity = make_legal_entity(services.documents)
    make_invoice(services.documents, kari, entity, ident="inv_1", number=1001, kid="100010010003")

    response = api.http.get("/v1/customers/cus_kari/subscriptions?limit=1", headers=admin)
    assert response.status_code == 200, response.body
    first = response.json_body
    assert [(s["id"], s["plan_id"], s["next_invoice"]) for s in first["items"]] == [
        ("sub_1", "pln_campaign", None)
    ]
    assert first["next_cursor"]
    second = api.http.get(
        f"/v1/customers/cus_kari/subscriptions?limit=1&cursor={first['next_cursor']}", headers=admin
    )
    assert [s["id"] for s in second.json_body["items"]] == ["sub_2"]

    invoices = api.http.get("/v1/customers/cus_kari/invoices", headers=admin).json_body
    assert [(i["id"], i["number"], i["kid"]) for i in invoices["items"]] == [("inv_1", 1001, "100010010003")]
    assert invoices["next_cursor"] is None
    assert api.http.get("/v1/customers/cus_bakery/invoices", headers=admin).json_body["items"] == []
    assert api.http.get("/v1/customers/cus_kari/invoices?cursor=bogus", headers=admin).status_code == 422
