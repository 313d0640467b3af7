"""Every router the app serves, in one list: app.py registers them, and the OpenAPI document describes
them (served at ``/openapi.json``; ``python -m chalicelib.api.blueprints`` prints docs/openapi.json)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from chalicelib.api import (
    access,
    avtalegiro,
    billing,
    callbacks,
    catalog,
    customers,
    dunning,
    events,
    incoming_payments,
    ledger,
    offers,
    order_blocks,
    orders,
    payment_files,
    plans,
    system,
    test_clock,
)
from chalicelib.api.openapi import build_document
from chalicelib.api.routing import Call, Reply, Router, RouteSpec

docs = Router("docs", tag="system")


@docs.route("GET", "/openapi.json", summary="This API's OpenAPI 3.1 document", auth="public")
def openapi_document(call: Call) -> Reply:
    """The generated OpenAPI document (the same as docs/openapi.json)."""
    return Reply(cached_document())


ROUTERS: tuple[Router, ...] = (
    system.router,
    docs,
    test_clock.router,
    catalog.router,
    plans.router,
    offers.router,
    orders.router,
    billing.router,
    customers.router,
    order_blocks.router,
    access.router,
    ledger.router,
    incoming_payments.router,
    payment_files.router,
    avtalegiro.router,
    dunning.router,
    callbacks.router,
    events.router,
)


def all_specs() -> list[RouteSpec]:
    """Every route the app registers."""
    return [spec for router in ROUTERS for spec in router.specs]


@lru_cache(maxsize=1)
def cached_document() -> dict[str, Any]:
    """The OpenAPI document for the app's routes, built once per process."""
    return build_document(all_specs())


def render() -> str:
    """The document as committed in docs/openapi.json."""
    return json.dumps(cached_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
