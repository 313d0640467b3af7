"""Small holes in the edge (issue #12): e-mail case, dates out of range, DynamoDB throttling and amounts
beyond the bound. Each answered with its own problem, never a 500."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from pynamodb.exceptions import GetError, TransactWriteError

from chalicelib.container import Services
from chalicelib.customers.models import BlockKind, Customer, OrderBlock
from chalicelib.errors import OrderBlockedError
from chalicelib.money import MAX_AMOUNT
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, WriteConflictError, document_item, lookup_item
from tests.support.catalog import person
from tests.support.customers import make_customer
from tests.support.ledger import Shop, shop


def post(api: Client, admin: dict[str, str], path: str, body: Any) -> Any:
    headers = {**admin, "Idempotency-Key": uuid.uuid4().hex}
    return api.http.post(path, headers=headers, body=json.dumps(body))


def get(api: Client, admin: dict[str, str], path: str) -> Any:
    return api.http.get(path, headers=admin)


def order(the_shop: Shop, api: Client, admin: dict[str, str], email: str) -> Any:
    body = {
        "offer_id": the_shop.catalog.invoice_offer["id"],
        "payment_method": "invoice",
        "customer": person(email),
    }
    return post(api, admin, "/v1/orders", body)


# ---- e-mail addresses match whatever their case --------------------------------------------------------


def test_a_returning_customer_who_types_capitals_is_the_same_customer(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    the_shop = shop(services, api, admin)
    first = order(the_shop, api, admin, "kari.nordmann@example.no")
    again = order(the_shop, api, admin, "Kari.Nordmann@EXAMPLE.no")
    assert (first.status_code, again.status_code) == (201, 201), again.body
    assert again.json_body["new_customer"] is False
    assert again.json_body["customer_id"] == first.json_body["customer_id"]
    # The address stays as the customer first typed it
    customer = get(api, admin, f"/v1/customers/{first.json_body['customer_id']}").json_body
    assert customer["email"] == "kari.nordmann@example.no"


def test_an_order_block_on_an_address_stops_it_in_any_case(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    the_shop = shop(services, api, admin)
    blocked = post(api, admin, "/v1/order-blocks", {"email": "reader@example.no", "reason": "chargebacks"})
    assert blocked.status_code == 201, blocked.body
    refused = order(the_shop, api, admin, "Reader@example.no")
    assert refused.status_code == 403, refused.body
    assert refused.json_body["type"].endswith("/order-blocked")
    # And a block typed with capitals stops the address typed without
    post(api, admin, "/v1/order-blocks", {"email": "Other.Reader@example.no", "reason": "fraud"})
    assert order(the_shop, api, admin, "other.reader@example.no").status_code == 403


def test_search_and_the_access_check_find_a_subscriber_who_types_capitals(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    the_shop = shop(services, api, admin)
    placed = order(the_shop, api, admin, "kari.nordmann@example.no").json_body
    news = the_shop.catalog.news["id"]
    found = get(api, admin, "/v1/customers?q=KARI.Nordmann@example.no").json_body["items"]
    assert [c["id"] for c in found] == [placed["customer_id"]]
    answer = get(api, admin, f"/v1/access?product_id={news}&email=Kari.Nordmann@Example.no").json_body
    assert (answer["customer_id"], answer["access"]) == (placed["customer_id"], True)


def _legacy_person(services: Services, email: str) -> Customer:
    """A person whose e-mail lookup was written before matching ignored case: at the address as typed."""
    customer = make_customer(services.documents, ident="cus_old", number=10001, name="Old", email=email)
    folded = DocumentItem(keys.email_lookup(email.lower()), "LOOKUP", kind="lookup")
    legacy = lookup_item(keys.email_lookup(email), keys.customer(customer.id))
    services.documents.write([legacy], [], deletes=[folded])
    return customer


def test_lookups_and_blocks_written_before_matching_ignored_case_are_still_found(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    customer = _legacy_person(services, "Reader@example.no")
    answer = get(api, admin, "/v1/access?product_id=prd_news&email=Reader@example.no").json_body
    assert answer["customer_id"] == customer.id
    found = get(api, admin, "/v1/customers?q=Reader@example.no").json_body["items"]
    assert [c["id"] for c in found] == [customer.id]
    # A block stored at the address as typed still stops that address
    stored = keys.order_block("email", "Blocked@example.no")
    block = OrderBlock(
        id="blk_old",
        kind=BlockKind.EMAIL,
        value="Blocked@example.no",
        reason="r",
        created_at=customer.created_at,
    )
    services.documents.put_new(document_item("order_block", stored, block))
    with pytest.raises(OrderBlockedError):
        services.order_blocks.check(None, "Blocked@example.no", None, None)


def test_a_new_address_moves_the_lookup_of_a_customer_stored_before(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    customer = _legacy_person(services, "Reader@example.no")
    changed = api.http.patch(
        f"/v1/customers/{customer.id}", headers=admin, body=json.dumps({"email": "Lukas@example.no"})
    )
    assert changed.status_code == 200, changed.body
    assert services.documents.get(keys.email_lookup("Reader@example.no"), "LOOKUP") is None
    assert services.documents.get(keys.email_lookup("lukas@example.no"), "LOOKUP") is not None
    found = get(api, admin, "/v1/customers?q=LUKAS@example.no").json_body["items"]
    assert [c["email"] for c in found] == ["Lukas@example.no"]


# ---- dates outside 1970-01-01 .. 2199-12-31 are refused --------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/payments?from=9999-12-31&to=9999-12-31", "from"),
        ("/v1/payments?from=2027-01-01&to=9999-12-31", "to"),
        ("/v1/payments?from=0001-01-01&to=2027-01-01", "from"),
        ("/v1/payments?from=1969-12-31&to=1970-01-31", "from"),
        ("/v1/avtalegiro/claims/unpaid?as_of=9999-12-31", "as_of"),
        ("/v1/avtalegiro/claims/unpaid?as_of=0001-01-01", "as_of"),
        ("/v1/avtalegiro/submissions/claims/9999-12-31", "day"),
    ],
)
def test_a_date_out_of_range_in_a_query_or_path_is_a_422_naming_it(
    services: Services, api: Client, admin: dict[str, str], path: str, field: str
) -> None:
    response = get(api, admin, path)
    assert response.status_code == 422, response.body
    assert response.json_body["type"].endswith("/validation-error")
    assert field in [error["field"] for error in response.json_body["errors"]]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/subscriptions/sub_x/pause", {"from": "9999-12-31"}, "from"),
        ("/v1/subscriptions/sub_x/pause", {"from": "2027-02-01", "until": "9999-12-31"}, "until"),
        (
            "/v1/plans/pln_x/price-changes",
            {"price": {"amount": 100}, "effective_date": "9999-12-31"},
            "effective_date",
        ),
        ("/v1/test/clock", {"advance_to": "9999-12-31T23:59:59+00:00"}, "advance_to"),
        ("/v1/test/clock", {"advance_to": "9999-12-31"}, "advance_to"),
    ],
)
def test_a_date_out_of_range_in_a_body_is_a_422_naming_it(
    services: Services, api: Client, admin: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    response = post(api, admin, path, body)
    assert response.status_code == 422, response.body
    assert any(error["field"].startswith(field) for error in response.json_body["errors"])


@pytest.mark.parametrize(
    "path",
    [
        "/v1/payments?from=2199-12-01&to=2199-12-31",
        "/v1/payments?from=1970-01-01&to=1970-01-31",
        "/v1/avtalegiro/claims/unpaid?as_of=2199-12-31",
        "/v1/avtalegiro/claims/unpaid?as_of=1970-01-01",
    ],
)
def test_the_first_and_last_dates_in_range_are_accepted(
    services: Services, api: Client, admin: dict[str, str], path: str
) -> None:
    response = get(api, admin, path)
    assert response.status_code == 200, response.body


# ---- DynamoDB throttling is a 503 with Retry-After ----------------------------------------------------


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "GetItem")


@pytest.mark.parametrize(
    "raised",
    [
        _client_error("ProvisionedThroughputExceededException"),
        _client_error("ThrottlingException"),
        _client_error("RequestLimitExceeded"),
        GetError("Failed to get item", _client_error("ProvisionedThroughputExceededException")),
    ],
    ids=["provisioned", "throttling", "request-limit", "pynamodb-wrapped"],
)
def test_a_throttled_read_is_a_503_with_retry_after(
    services: Services, api: Client, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    def throttled(*_: object, **__: object) -> None:
        raise raised

    monkeypatch.setattr(services.documents, "get", throttled)
    response = get(api, admin, "/v1/customers/cus_x")
    assert response.status_code == 503, response.body
    assert response.json_body["type"].endswith("/throttled")
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"] == "application/problem+json"


def _cancelled(*reasons: str) -> WriteConflictError:
    """What the store raises for a cancelled transaction, with DynamoDB's error as its cause."""
    cause = ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": reason} for reason in reasons],
        },
        "TransactWriteItems",
    )
    try:
        raise TransactWriteError("Failed to write transaction items", cause)
    except TransactWriteError as error:
        try:
            raise WriteConflictError("the data changed or already exists; nothing was written", []) from error
        except WriteConflictError as conflict:
            return conflict


@pytest.mark.parametrize(
    ("reasons", "status", "slug"),
    [
        (("TransactionConflict", "None"), 503, "throttled"),
        (("ThrottlingError",), 503, "throttled"),
        (("ConditionalCheckFailed", "TransactionConflict"), 409, "conflict"),
    ],
)
def test_a_transaction_that_lost_its_race_after_the_retries_is_a_503(
    services: Services,
    api: Client,
    admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    reasons: tuple[str, ...],
    status: int,
    slug: str,
) -> None:
    def cancelled(*_: object, **__: object) -> None:
        raise _cancelled(*reasons)

    monkeypatch.setattr(services.customers, "get", cancelled)
    response = get(api, admin, "/v1/customers/cus_x")
    assert response.status_code == status, response.body
    assert response.json_body["type"].endswith(f"/{slug}")
    assert ("Retry-After" in response.headers) == (status == 503)


# ---- money amounts beyond the bound are refused ------------------------------------------------------


def test_a_price_beyond_the_largest_single_amount_is_a_422(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    body = {"price": {"amount": MAX_AMOUNT + 1}, "effective_date": "2027-02-01"}
    response = post(api, admin, "/v1/plans/pln_x/price-changes", body)
    assert response.status_code == 422, response.body
    assert [error["field"] for error in response.json_body["errors"]] == ["price.amount"]
    # The bound itself is a price (the plan does not exist: 404, past validation)
    at_bound = post(api, admin, "/v1/plans/pln_x/price-changes", {**body, "price": {"amount": MAX_AMOUNT}})
    assert at_bound.status_code == 404, at_bound.body
