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
from chalicelib.api.routing import Router

ROUTERS: tuple[Router, ...] = (
    system.router,
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
