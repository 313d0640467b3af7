"""Idempotency-Key on POSTs: required on every creating route (428 without it), a replay returns the
first response, another body is 409, failures leave no record, and the key itself is validated. And a
committed order whose reply is lost and whose transaction the SDK sends again is still one order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from chalice.app import Chalice
from chalice.test import Client

from chalicelib.api.blueprints import all_specs
from chalicelib.api.routing import Call, Router, RouteSpec
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.container import Services
from chalicelib.errors import ConflictError
from chalicelib.store import keys
from chalicelib.store.base import MainItem
from chalicelib.store.counters import read_counter
from chalicelib.store.transaction import _connection
from tests.support.catalog import Http, build_catalog, person
from tests.support.idempotency import without_idempotency_keys


class Thing(RequestModel):
    name: str


class Created(ResponseModel):
    id: int
    name: str


calls = count(1)
router = Router("things", tag="test")
things_app = Chalice(app_name="things")
things_app.experimental_feature_flags.update({"BLUEPRINTS"})


@router.route("POST", "/things", summary="create", body=Thing, response=Created, status=201, idempotent=True)
def create_thing(call: Call) -> Created:
    thing = call.body(Thing)
    if thing.name == "clash":
        raise ConflictError("refused")
    return Created(id=next(calls), name=thing.name)


things_app.register_blueprint(router.blueprint)


@pytest.fixture
def things(services: Services) -> Iterator[Client]:
    with Client(things_app) as client:
        yield client


def post(
    client: Client, admin: dict[str, str], key: str | None, body: object
) -> tuple[int, dict[str, object]]:
    """POST a thing under ``key``; None sends no key at all."""
    if key is None:
        with without_idempotency_keys():
            response = client.http.post("/things", headers=admin, body=json.dumps(body))
    else:
        response = client.http.post(
            "/things", headers=admin | {"Idempotency-Key": key}, body=json.dumps(body)
        )
    return response.status_code, response.json_body


def test_a_replay_returns_the_first_response(things: Client, admin: dict[str, str]) -> None:
    first = post(things, admin, "k-1", {"name": "a"})
    assert first[0] == 201
    assert post(things, admin, "k-1", {"name": "a"}) == first
    # Whitespace and key order do not make another body
    headers = admin | {"Idempotency-Key": "k-1"}
    assert things.http.post("/things", headers=headers, body=b'{ "name" : "a" }').json_body == first[1]


def test_the_same_key_with_another_body_is_409(things: Client, admin: dict[str, str]) -> None:
    post(things, admin, "k-2", {"name": "a"})
    status, problem = post(things, admin, "k-2", {"name": "b"})
    assert status == 409
    assert str(problem["type"]).endswith("/idempotency-key-reused")


def test_without_a_key_a_creating_post_is_refused_and_creates_nothing(
    things: Client, admin: dict[str, str]
) -> None:
    before = next(calls)
    status, problem = post(things, admin, None, {"name": "a"})
    assert status == 428
    assert str(problem["type"]).endswith("/idempotency-key-missing")
    assert problem["errors"] == [
        {
            "field": "Idempotency-Key",
            "in": "header",
            "message": "this route requires the header",
            "code": "missing",
        }
    ]
    # Even a body that is not valid names the missing key first
    assert post(things, admin, None, {"name": 1})[0] == 428
    assert next(calls) == before + 1  # the view never ran


def test_a_failed_request_can_be_retried_under_its_key(things: Client, admin: dict[str, str]) -> None:
    assert post(things, admin, "k-3", {"name": "clash"})[0] == 409
    assert post(things, admin, "k-3", {"name": "clash"})[0] == 409  # not "in progress", not cached


def test_bad_keys_and_bodies_are_refused_before_anything_is_stored(
    things: Client, admin: dict[str, str]
) -> None:
    status, problem = post(things, admin, "x" * 256, {"name": "a"})
    assert status == 422
    assert problem["errors"] == [
        {
            "field": "Idempotency-Key",
            "in": "header",
            "message": "1 to 255 visible ASCII characters",
            "code": "invalid",
        }
    ]
    assert post(things, admin, "k-4", {"name": 1})[0] == 422
    assert post(things, admin, "k-4", {"name": "now valid"})[0] == 201


# ---- every creating route, on the real app -------------------------------------------------------------

# POSTs that need no key: provider callbacks are idempotent by the provider's event id, the test clock's
# target date is absolute, and setting up an order's payment again is idempotent by the order's id.
EXEMPT = {"/v1/callbacks/vipps", "/v1/callbacks/stripe", "/v1/test/clock", "/v1/orders/{id}/payment"}
POSTS = [spec for spec in all_specs() if spec.method == "POST"]


@pytest.mark.parametrize("spec", POSTS, ids=lambda spec: spec.path)
def test_every_post_but_the_exempt_ones_requires_a_key(spec: RouteSpec) -> None:
    assert spec.idempotent == (spec.path not in EXEMPT)
    if spec.status == 201:
        assert spec.idempotent


@pytest.mark.parametrize("spec", [spec for spec in POSTS if spec.idempotent], ids=lambda spec: spec.path)
def test_a_creating_route_without_a_key_is_428(api: Client, admin: dict[str, str], spec: RouteSpec) -> None:
    path = spec.path.replace("{id}", "x_1")
    with without_idempotency_keys():
        response = api.http.post(path, headers=admin, body=b"{}")
    assert response.status_code == 428
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json_body["type"].endswith("/idempotency-key-missing")


# ---- a committed transaction whose reply is lost ----------------------------------------------------------


@dataclass
class LostReply:
    """Once armed, the next TransactWriteItems reaches DynamoDB (moto applies it) and then its reply is
    lost: the caller sees a read timeout and botocore sends the same request again. ``lost`` holds the
    HTTP status of each send whose reply was lost."""

    armed: bool = False
    lost: list[int] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)  # each send's ClientRequestToken, from the lost one on


@pytest.fixture
def lost_reply(services: Services) -> Iterator[LostReply]:
    client: Any = _connection(MainItem.Meta.region).client
    state = LostReply()

    def lose_the_reply(request: Any, **_: Any) -> None:
        if state.lost:
            state.tokens.append(json.loads(request.body)["ClientRequestToken"])
        if not state.armed:
            return
        state.armed = False
        state.tokens.append(json.loads(request.body)["ClientRequestToken"])
        state.lost.append(client._endpoint._send(request).status_code)
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send.dynamodb.TransactWriteItems", lose_the_reply)
    yield state
    client.meta.events.unregister("before-send.dynamodb.TransactWriteItems", lose_the_reply)


def test_an_order_whose_committed_reply_is_lost_is_one_order(
    api: Client, admin: dict[str, str], lost_reply: LostReply
) -> None:
    # Given a catalog
    http = Http(api, admin)
    catalog = build_catalog(http)
    entity_id = catalog.seller["id"]
    # When the order's transaction commits but its reply is lost, and botocore sends it again
    body = {"offer_id": catalog.invoice_offer["id"], "payment_method": "invoice", "customer": person()}
    lost_reply.armed = True
    status, placed = http.post("/v1/orders", body)
    # Then the first send did reach the table, and the order is answered as placed
    assert lost_reply.lost == [200]
    # And botocore's second send carried the first one's ClientRequestToken (DynamoDB would answer it
    # without applying it again; moto applies it, and the transaction's conditions refuse it)
    assert len(lost_reply.tokens) == 2
    assert lost_reply.tokens[0] == lost_reply.tokens[1]
    assert status == 201, placed
    assert set(placed) >= {"order_id", "customer_id", "subscription_id", "invoice_id"}
    # And there is one customer, one subscription and one invoice, the order's, numbered 1
    _, found = http.get("/v1/customers?q=kari.nordmann@example.no")
    assert [customer["id"] for customer in found["items"]] == [placed["customer_id"]]
    _, subscriptions = http.get(f"/v1/customers/{placed['customer_id']}/subscriptions")
    assert [s["id"] for s in subscriptions["items"]] == [placed["subscription_id"]]
    _, invoices = http.get(f"/v1/customers/{placed['customer_id']}/invoices")
    issued = [i for i in invoices["items"] if i["status"] != "draft"]
    assert [(i["id"], i["number"]) for i in issued] == [(placed["invoice_id"], 1)]
    # And the invoice-number counter moved by one
    assert read_counter(keys.invoice_number_counter(entity_id), start=1).last == 1
