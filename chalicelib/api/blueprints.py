"""Every router the app serves, in one list: app.py registers them and OpenAPI describes them."""

from __future__ import annotations

from chalicelib.api import system, test_clock
from chalicelib.api.routing import Router

ROUTERS: tuple[Router, ...] = (system.router, test_clock.router)
