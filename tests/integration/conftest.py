"""Fixtures the dunning and notification integration tests share: the dunning routes' client, the standard
catalog and a world to dun in. A module that needs another catalog (the billing tests store a
reminder-only plan) defines its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client

from chalicelib.container import Services
from tests.support.catalog import Catalog, Http, build_catalog
from tests.support.dunning import World, dunning_client, world


@pytest.fixture
def dunning_api(services: Services) -> Iterator[Client]:
    """Chalice's in-process client for the dunning routes."""
    yield from dunning_client()


@pytest.fixture
def catalog(api: Client, admin: dict[str, str]) -> Catalog:
    """The standard test catalog, its seller on its country's standard dunning plan."""
    return build_catalog(Http(api, admin))


@pytest.fixture
def dunned(
    services: Services, api: Client, dunning_api: Client, admin: dict[str, str], catalog: Catalog
) -> World:
    """A shop selling the standard catalog's invoice offer, with the dunning routes at hand."""
    return world(
        services,
        Http(api, admin),
        Http(dunning_api, admin),
        catalog.invoice_offer["id"],
        catalog.seller["id"],
    )
