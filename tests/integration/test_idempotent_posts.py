"""Idempotency-Key on POSTs: a replay returns the first response, another body is 409, failures leave
no record, and the key itself is validated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count

import pytest
from chalice.app import Chalice
from chalice.test import Client

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.container import Services
from chalicelib.errors import ConflictError


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
    headers = dict(admin) | ({"Idempotency-Key": key} if key is not None else {})
    response = client.http.post("/things", headers=headers, body=json.dumps(body))
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


def test_without_a_key_each_post_creates(things: Client, admin: dict[str, str]) -> None:
    assert (
        post(things, admin, None, {"name": "a"})[1]["id"] != post(things, admin, None, {"name": "a"})[1]["id"]
    )


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
