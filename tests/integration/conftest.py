"""Fixtures the dunning integration tests share: the dunning routes' client and the standard catalog.
A module that needs another catalog (the billing tests store a reminder-only plan) defines its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client

from chalicelib.container import Services
from tests.support.catalog import Catalog, Http, build_catalog
from tests.support.dunning import dunning_client


@pytest.fixture
def dunning_api(services: Services) -> Iterator[Client]:
    """Chalice's in-process client for the dunning routes."""
    yield from dunning_client()


@pytest.fixture
def catalog(api: Client, admin: dict[str, str]) -> Catalog:
    """The standard test catalog, its seller on its country's standard dunning plan."""
    return build_catalog(Http(api, admin))
