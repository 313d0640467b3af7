"""GET /v1/events: the recorded events, oldest first, by type, seller and page; bad input is a 422."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from chalicelib.api.events import EventList
from chalicelib.store.events import RETENTION_DAYS
from infra.awscalls import count_aws_requests
from tests.support.catalog import Catalog, Http, person
from tests.support.events import recorded_events


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def place_order(http: Http, catalog: Catalog, email: str = "kari@example.no") -> dict[str, Any]:
    body = {"offer_id": catalog.invoice_offer["id"], "payment_method": "invoice", "customer": person(email)}
    return http.created("/v1/orders", body)


def listed(http: Http, query: str = "") -> dict[str, Any]:
    status, body = http.get(f"/v1/events{query}")
    assert status == 200, body
    return dict(body)


def test_an_order_s_events_are_listed_as_recorded(http: Http, catalog: Catalog) -> None:
    order = place_order(http, catalog)
    page = listed(http)
    assert page["next_cursor"] is None
    assert page["items"] == [event.as_json() for event in recorded_events()]
    types = [item["type"] for item in page["items"]]
    assert {"order.completed", "subscription.started", "access.granted", "invoice.issued"} <= set(types)
    [completed] = [item for item in page["items"] if item["type"] == "order.completed"]
    assert completed["data"]["order_id"] == order["order_id"]
    assert completed["legal_entity_id"] == catalog.seller["id"]
    assert [item["id"] for item in page["items"]] == sorted(item["id"] for item in page["items"])
    # Each item is the variant of its type that the OpenAPI document describes.
    assert EventList.model_validate(page).model_dump(mode="json") == page


def test_events_are_filtered_by_type_and_seller(http: Http, catalog: Catalog) -> None:
    place_order(http, catalog, "a@example.no")
    place_order(http, catalog, "b@example.no")
    completed = listed(http, "?type=order.completed")["items"]
    assert [item["type"] for item in completed] == ["order.completed"] * 2
    seller = catalog.seller["id"]
    assert listed(http, f"?legal_entity_id={seller}")["items"] == listed(http)["items"]
    assert listed(http, "?legal_entity_id=le_someone_else") == {"items": [], "next_cursor": None}


def test_pages_walk_every_event_once_and_after_resumes_from_an_event(http: Http, catalog: Catalog) -> None:
    place_order(http, catalog)
    everything = [item["id"] for item in listed(http)["items"]]
    walked: list[str] = []
    page = listed(http, "?limit=2")
    while True:
        walked += [item["id"] for item in page["items"]]
        assert len(page["items"]) <= 2
        if page["next_cursor"] is None:
            break
        page = listed(http, f"?limit=2&cursor={page['next_cursor']}")
    assert walked == everything
    assert [item["id"] for item in listed(http, f"?after={everything[0]}")["items"]] == everything[1:]
    assert listed(http, f"?after={everything[-1]}") == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?type=order.lost", "type"),
        ("?after=nope", "after"),
        ("?after=evt_ZZZZZZZZZZ0000000000000000", "after"),  # an instant beyond any date
        ("?after=evt_0000000001UUUUUUUUUUUUUUUU", "after"),  # no I, L, O or U in Crockford base32
        ("?after=evt_00000000010000000000000000&cursor=evt_00000000010000000000000000", "cursor"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?legal_entity_id=" + "x" * 65, "legal_entity_id"),
        ("?page=2", "page"),
    ],
)
def test_bad_queries_are_422_naming_the_field(http: Http, query: str, field: str) -> None:
    status, body = http.get(f"/v1/events{query}")
    assert (status, body["type"], body["status"]) == (422, "https://abo.dev/problems/validation-error", 422)
    assert field in [error["field"] for error in body["errors"]], body


def test_the_list_is_for_administrators(api: Client) -> None:
    response = api.http.get("/v1/events")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"


def test_a_listing_queries_one_partition_per_day_from_where_it_starts(http: Http, catalog: Catalog) -> None:
    place_order(http, catalog)
    with count_aws_requests() as counter:
        listed(http, "?type=order.completed")
    # From the start of the retention period to today, a query per day (the clock's read aside).
    assert counter.count(service="dynamodb", operation="Query") == RETENTION_DAYS + 1
    with count_aws_requests() as counter:
        listed(http, f"?after={recorded_events()[0].id}")
    # The cursor's day is today: one partition.
    assert counter.count(service="dynamodb", operation="Query") == 1
