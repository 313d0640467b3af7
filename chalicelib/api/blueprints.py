"""Every router the app serves, in one list: app.py registers them and OpenAPI describes them."""

from __future__ import annotations

from chalicelib.api import (
    access,
    avtalegiro,
    billing,
    callbacks,
    catalog,
    customers,
    dunning,
    ledger,
    order_blocks,
    orders,
    system,
    test_clock,
)
from chalicelib.api.routing import Router

ROUTERS: tuple[Router, ...] = (
    system.router,
    test_clock.router,
    catalog.router,
    orders.router,
    billing.router,
    customers.router,
    order_blocks.router,
    access.router,
    ledger.router,
    avtalegiro.router,
    dunning.router,
    callbacks.router,
)
