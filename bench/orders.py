"""Orders and the access check: AWS requests per operation and latency, in process against moto.

Goals from the catalog/orders issue: the access check is one DynamoDB read (in production, where the
clock is system time; locally the stored test clock adds one read, listed separately).
"""

from __future__ import annotations

import json
import uuid

from bench.stack import ADMIN_HEADERS, Action, Deployment, expect, operation
from infra.local.seed import seed_demo_catalog


def _seed(deployment: Deployment) -> dict[str, str]:
    seeded = seed_demo_catalog(deployment.services.catalog)
    if seeded is None:
        raise RuntimeError("the bench deployment was not empty")
    return seeded.offer_ids


def _headers() -> dict[str, str]:
    """The admin's headers with a fresh Idempotency-Key: every order is a new one, not a replay."""
    return {**ADMIN_HEADERS, "Idempotency-Key": str(uuid.uuid4())}


def _order_body(offer_id: str, index: int) -> str:
    return json.dumps(
        {
            "offer_id": offer_id,
            "payment_method": "invoice",
            "customer": {
                "type": "person",
                "name": f"Bench Kunde {index}",
                "email": f"bench{index}@example.no",
            },
        }
    )


@operation("POST /v1/orders (new customer)", runs=20, order=50)
def place_order(deployment: Deployment) -> Action:
    """An order by a new person: customer, subscription, agreement, invoice, draft, ledger, access."""
    offers = _seed(deployment)
    return lambda index: expect(
        deployment.api.http.post(
            "/v1/orders", headers=_headers(), body=_order_body(offers["monthly"], index)
        ),
        201,
    )


@operation("POST /v1/orders (returning customer)", runs=20, order=51)
def place_repeat_order(deployment: Deployment) -> Action:
    """A second order by a known customer."""
    offers = _seed(deployment)
    expect(
        deployment.api.http.post("/v1/orders", headers=_headers(), body=_order_body(offers["bundle"], 0)),
        201,
    )
    return lambda _: expect(
        deployment.api.http.post("/v1/orders", headers=_headers(), body=_order_body(offers["bundle"], 0)),
        201,
    )


@operation("GET /v1/access (HTTP, stored test clock)", runs=30, order=60)
def access_over_http(deployment: Deployment) -> Action:
    """The CMS's access check through the API: the access item, plus the test clock's own read."""
    offers = _seed(deployment)
    response = deployment.api.http.post(
        "/v1/orders", headers=_headers(), body=_order_body(offers["monthly"], 1)
    )
    expect(response, 201)
    customer_id = response.json_body["customer_id"]
    product_id = deployment.services.catalog.plan(
        deployment.services.catalog.offer(offers["monthly"]).plan_id
    ).product_ids[0]
    path = f"/v1/access?customer_id={customer_id}&product_id={product_id}"
    return lambda _: expect(deployment.api.http.get(path, headers=ADMIN_HEADERS), 200)


@operation("access check (service, system clock as in production)", runs=30, order=61)
def access_in_production(deployment: Deployment) -> Action:
    """AccessService.check with the production clock: exactly the one GetItem of the access item."""
    from chalicelib.clock import SystemClock
    from chalicelib.subscriptions.access import AccessService

    offers = _seed(deployment)
    order = deployment.api.http.post("/v1/orders", headers=_headers(), body=_order_body(offers["monthly"], 2))
    expect(order, 201)
    customer_id = order.json_body["customer_id"]
    product_id = deployment.services.catalog.plan(
        deployment.services.catalog.offer(offers["monthly"]).plan_id
    ).product_ids[0]
    service = AccessService(deployment.services.documents, SystemClock())
    return lambda _: service.check(customer_id, product_id)
