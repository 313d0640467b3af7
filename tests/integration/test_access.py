"""The access check: one GetItem per answer, grants per subscription, and the HTTP contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.clock import FixedClock
from chalicelib.container import Services
from chalicelib.customers.models import Customer
from chalicelib.store.documents import WriteConflictError
from chalicelib.subscriptions.access import AccessDecision, AccessService
from infra.awscalls import count_aws_requests
from tests.support.customers import customer_client, make_customer

TODAY = date(2027, 1, 1)  # the test clock: 2027-01-01 08:00 UTC


@pytest.fixture
def api(services: Services) -> Iterator[Client]:
    with customer_client() as client:
        yield client


@pytest.fixture
def kari(services: Services) -> Customer:
    return make_customer(
        services.documents, ident="cus_kari", number=10001, name="Kari", email="kari@example.no"
    )


def grant(
    services: Services, subscription_id: str, until: date, products: tuple[str, ...] = ("prd_news",)
) -> None:
    creates, replaces = services.access.grant_writes("cus_kari", list(products), subscription_id, until)
    services.documents.write(creates, replaces)


def access(api: Client, admin: dict[str, str], query: str) -> Any:
    response = api.http.get(f"/v1/access?{query}", headers=admin)
    assert response.status_code == 200, response.body
    return response.json_body


def test_a_grant_gives_access_until_its_end(services: Services, kari: Customer) -> None:
    grant(services, "sub_1", date(2027, 2, 1), ("prd_news", "prd_archive"))
    assert services.access.check("cus_kari", "prd_news") == AccessDecision(True, date(2027, 2, 1), "cus_kari")
    assert services.access.check("cus_kari", "prd_archive").has_access
    assert services.access.check("cus_kari", "prd_other") == AccessDecision(False, None, "cus_kari")
    assert services.access.check("cus_nobody", "prd_news") == AccessDecision(False, None, "cus_nobody")


def test_the_end_date_is_exclusive_in_oslo_time(services: Services, kari: Customer) -> None:
    grant(services, "sub_1", date(2027, 2, 1))
    store = services.documents

    def on(instant: datetime) -> bool:
        return AccessService(store, FixedClock(instant)).check("cus_kari", "prd_news").has_access

    assert on(datetime(2027, 1, 31, 22, 59, tzinfo=UTC))  # 23:59 in Oslo on the last day
    assert not on(datetime(2027, 1, 31, 23, 0, tzinfo=UTC))  # midnight in Oslo: 1 February


def test_grants_per_subscription_and_revoking_one(services: Services, kari: Customer) -> None:
    grant(services, "sub_1", date(2027, 2, 1))
    grant(services, "sub_2", date(2027, 3, 1))
    assert services.access.check("cus_kari", "prd_news").valid_until == date(2027, 3, 1)
    services.documents.write([], services.access.revoke_writes("cus_kari", ["prd_news", "prd_none"], "sub_2"))
    assert services.access.check("cus_kari", "prd_news").valid_until == date(2027, 2, 1)
    services.documents.write([], services.access.revoke_writes("cus_kari", ["prd_news"], "sub_1", TODAY))
    assert services.access.check("cus_kari", "prd_news") == AccessDecision(False, None, "cus_kari")


def test_revoking_at_a_date_never_lengthens_or_gives_back_access(services: Services, kari: Customer) -> None:
    grant(services, "sub_1", date(2027, 2, 1))
    # A pause or stop that ends access after the grant's end leaves the end where it was
    assert services.access.revoke_writes("cus_kari", ["prd_news"], "sub_1", date(2027, 3, 1)) == []
    services.documents.write(
        [], services.access.revoke_writes("cus_kari", ["prd_news"], "sub_1", date(2027, 1, 20))
    )
    assert services.access.check("cus_kari", "prd_news").valid_until == date(2027, 1, 20)
    # Access taken away at once (a dunning suspension) is not given back by a later stop's end date
    services.documents.write([], services.access.revoke_writes("cus_kari", ["prd_news"], "sub_1"))
    assert services.access.revoke_writes("cus_kari", ["prd_news"], "sub_1", date(2027, 1, 10)) == []
    assert not services.access.check("cus_kari", "prd_news").has_access


def test_grant_writes_read_once_and_fail_when_the_item_changed(services: Services, kari: Customer) -> None:
    grant(services, "sub_1", date(2027, 2, 1))
    with count_aws_requests() as counter:
        creates, replaces = services.access.grant_writes(
            "cus_kari", ["prd_news", "prd_new"], "sub_2", date(2027, 3, 1)
        )
    assert counter.by_operation() == {"dynamodb.BatchGetItem": 1}
    assert [(item.pk, item.sk) for item in creates] == [("ACCESS#cus_kari", "PRODUCT#prd_new")]
    assert [(item.sk, version) for item, version in replaces] == [("PRODUCT#prd_news", 1)]
    grant(services, "sub_3", date(2027, 4, 1))  # someone else changes the item in between
    with pytest.raises(WriteConflictError):
        services.documents.write(creates, replaces)
    assert services.access.check("cus_kari", "prd_new").has_access is False


def test_a_check_is_exactly_one_get_item(services: Services, kari: Customer) -> None:
    grant(services, "sub_1", date(2027, 2, 1))
    service = AccessService(services.documents, FixedClock(datetime(2027, 1, 10, tzinfo=UTC)))
    service.check("cus_kari", "prd_news")  # warm the connection
    with count_aws_requests() as counter:
        assert service.check("cus_kari", "prd_news").has_access
    assert counter.by_operation() == {"dynamodb.GetItem": 1}
    with count_aws_requests() as counter:
        assert service.check_by_email("kari@example.no", "prd_news").has_access
    assert counter.by_operation() == {"dynamodb.GetItem": 2}


def test_over_http_by_customer_id_or_email(
    api: Client, admin: dict[str, str], services: Services, kari: Customer
) -> None:
    grant(services, "sub_1", date(2027, 2, 1))
    expected = {
        "customer_id": "cus_kari",
        "product_id": "prd_news",
        "access": True,
        "valid_until": "2027-02-01",
    }
    assert access(api, admin, "customer_id=cus_kari&product_id=prd_news") == expected
    assert access(api, admin, "email=kari%40EXAMPLE.no&product_id=prd_news") == expected
    assert access(api, admin, "email=nobody%40example.no&product_id=prd_news") == {
        "customer_id": None,
        "product_id": "prd_news",
        "access": False,
        "valid_until": None,
    }
    # Locally the stored test clock is one more read; in production the clock reads no table
    with count_aws_requests() as counter:
        access(api, admin, "customer_id=cus_kari&product_id=prd_other")
    assert counter.by_operation() == {"dynamodb.GetItem": 2}


def test_over_http_bad_queries_are_422(api: Client, admin: dict[str, str]) -> None:
    for query in (
        "product_id=prd_news",
        "customer_id=cus_kari",
        "customer_id=cus_kari&email=kari%40example.no&product_id=prd_news",
        "email=not-an-email&product_id=prd_news",
        "customer_id=&product_id=prd_news",
        "customer_id=cus_kari&product_id=prd_news&extra=1",
    ):
        response = api.http.get(f"/v1/access?{query}", headers=admin)
        assert response.status_code == 422, (query, response.body)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json_body["errors"], query


def test_needs_the_admin_token(api: Client) -> None:
    assert api.http.get("/v1/access?customer_id=cus_kari&product_id=prd_news").status_code == 401
