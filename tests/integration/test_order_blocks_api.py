"""Order blocks over HTTP (create, list, delete) and the check orders make against them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from chalicelib.customers.models import BlockKind, Customer
from chalicelib.errors import OrderBlockedError
from infra.awscalls import count_aws_requests
from tests.support.customers import customer_client, make_customer


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with customer_client() as client:
        yield client


@pytest.fixture
def kari(services: Services) -> Customer:
    return make_customer(
        services.documents, ident="cus_kari", number=10001, name="Kari", email="kari@example.no"
    )


def create(api: Client, admin: dict[str, str], body: dict[str, Any]) -> Any:
    return api.http.post("/v1/order-blocks", headers=admin, body=json.dumps(body))


def listed(api: Client, admin: dict[str, str], query: str = "") -> Any:
    response = api.http.get(f"/v1/order-blocks{query}", headers=admin)
    assert response.status_code == 200, response.body
    return response.json_body


def test_create_list_and_delete(api: Client, admin: dict[str, str]) -> None:
    response = create(api, admin, {"email": " Kari@Example.NO ", "reason": "chargebacks"})
    assert response.status_code == 201, response.body
    block = response.json_body
    assert block["id"].startswith("blk_")
    # An e-mail block holds the address's match key: it stops the address in any case
    assert (block["kind"], block["value"], block["reason"]) == ("email", "kari@example.no", "chargebacks")
    assert block["created_at"] == "2027-01-01T08:00:00Z"
    assert listed(api, admin) == {"items": [block], "next_cursor": None}

    deleted = api.http.delete(f"/v1/order-blocks/{block['id']}", headers=admin)
    assert deleted.status_code == 204
    assert deleted.body == b""
    assert listed(api, admin)["items"] == []
    again = api.http.delete(f"/v1/order-blocks/{block['id']}", headers=admin)
    assert again.status_code == 404
    assert again.json_body["type"].endswith("/not-found")
    # The value can be blocked again once its block is gone
    assert create(api, admin, {"email": "Kari@example.no", "reason": "again"}).status_code == 201


def test_values_are_normalised_per_kind(api: Client, admin: dict[str, str], kari: Customer) -> None:
    bodies = [
        {"phone": "412 34 567", "reason": "r"},
        {"phone": "08-123 456 78", "country": "SE", "reason": "r"},
        {"org_number": "974 760 673", "reason": "r"},
        {"org_number": "556036-0793", "country": "SE", "reason": "r"},
        {"customer_id": "cus_kari", "reason": "r"},
    ]
    values = []
    for body in bodies:
        response = create(api, admin, body)
        assert response.status_code == 201, (body, response.body)
        values.append((response.json_body["kind"], response.json_body["value"]))
    assert values == [
        ("phone", "+4741234567"),
        ("phone", "+46812345678"),
        ("org_number", "974760673"),
        ("org_number", "5560360793"),
        ("customer", "cus_kari"),
    ]


def test_the_same_value_twice_is_409(api: Client, admin: dict[str, str]) -> None:
    assert create(api, admin, {"phone": "+47 412 34 567", "reason": "first"}).status_code == 201
    response = create(api, admin, {"phone": "41234567", "reason": "second"})
    assert response.status_code == 409
    assert response.json_body["detail"] == "this phone number is already blocked"
    assert [block["reason"] for block in listed(api, admin)["items"]] == ["first"]


def test_bad_input_is_422_and_writes_nothing(api: Client, admin: dict[str, str]) -> None:
    cases: list[tuple[object, set[str]]] = [
        ({"reason": "none named"}, {"customer_id", "email", "phone", "org_number"}),
        ({"email": "a@b.no", "phone": "41234567", "reason": "two"}, {"email", "phone"}),
        ({"email": "a@b.no"}, {"reason"}),
        ({"email": "a@b.no", "reason": ""}, {"reason"}),
        ({"email": "not-an-email", "reason": "r"}, {"email"}),
        ({"phone": "12", "reason": "r"}, {"phone"}),
        ({"org_number": "974760674", "reason": "r"}, {"org_number"}),
        ({"customer_id": "cus_nobody", "reason": "r"}, {"customer_id"}),
        ({"email": "a@b.no", "reason": "r", "country": "FI"}, {"country"}),
        ({"email": 5, "reason": "r"}, {"email"}),
        ({"email": "a@b.no", "reason": "r", "extra": 1}, {"extra"}),
    ]
    for body, fields in cases:
        response = api.http.post("/v1/order-blocks", headers=admin, body=json.dumps(body))
        assert response.status_code == 422, (body, response.body)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert {error["field"] for error in response.json_body["errors"]} == fields, (body, response.body)
    assert listed(api, admin)["items"] == []


def test_lists_a_page_at_a_time(api: Client, admin: dict[str, str]) -> None:
    for n in range(3):
        assert create(api, admin, {"email": f"{n}@example.no", "reason": "r"}).status_code == 201
    first = listed(api, admin, "?limit=2")
    assert [block["value"] for block in first["items"]] == ["0@example.no", "1@example.no"]
    second = listed(api, admin, f"?limit=2&cursor={first['next_cursor']}")
    assert [block["value"] for block in second["items"]] == ["2@example.no"]


def test_routes_need_the_admin_token(api: Client) -> None:
    assert api.http.get("/v1/order-blocks").status_code == 401
    assert api.http.post("/v1/order-blocks", body=b'{"email": "a@b.no", "reason": "r"}').status_code == 401
    assert api.http.delete("/v1/order-blocks/blk_1").status_code == 401


@pytest.mark.parametrize(
    ("block", "named"),
    [
        ({"customer_id": "cus_kari"}, "customer"),
        ({"email": "kari@example.no"}, "e-mail address"),
        ({"phone": "+4741234567"}, "phone number"),
        ({"org_number": "974760673"}, "organisation number"),
    ],
)
def test_check_raises_for_a_match_and_names_the_kind_only(
    api: Client, admin: dict[str, str], services: Services, kari: Customer, block: dict[str, str], named: str
) -> None:
    assert create(api, admin, {**block, "reason": "secret internal reason"}).status_code == 201
    with pytest.raises(OrderBlockedError) as blocked:
        services.order_blocks.check("cus_kari", "kari@example.no", "+4741234567", "974760673")
    assert str(blocked.value) == f"new orders are blocked for this {named}"
    assert "secret" not in str(blocked.value)
    services.order_blocks.check("cus_other", "other@example.no", "+4799999999", "923609016")


def test_check_is_one_batch_get_and_nothing_without_values(services: Services, kari: Customer) -> None:
    services.order_blocks.create(BlockKind.EMAIL, "kari@example.no", "r")
    services.order_blocks.create(BlockKind.CUSTOMER, "cus_kari", "r")
    with count_aws_requests() as counter:
        services.order_blocks.check(None, None, None, None)
        assert counter.total == 0
        with pytest.raises(OrderBlockedError) as blocked:
            services.order_blocks.check("cus_kari", "kari@example.no", "+4741234567", None)
    assert counter.by_operation() == {"dynamodb.BatchGetItem": 1}
    assert str(blocked.value) == "new orders are blocked for this customer and e-mail address"
