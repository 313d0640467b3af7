"""Validation of Vipps traffic against the published specs in ../shared/specs/vipps (read in place, never
copied), with openapi-core: a requests response hook for clients, and a check of raw exchanges for the
simulator (``VippsSimulator(validate_spec=True)`` or ``ABO_VIPPS_SIMULATOR_VALIDATE=1``).

The published Recurring spec has four defects that no real response can satisfy; the checker tolerates
exactly these, each only in the shape described, and records every time it did:

- ``transactionId``: its pattern ``^\\d{10+}$`` is malformed (it is also why the file fails OpenAPI's own
  schema), and it is required and not nullable although Vipps sends null until a charge is CHARGED.
- charge ``id`` / ``chargeId``: ``maxLength: 15``, while ``orderId`` (up to 50 characters) becomes the
  ``chargeId``.
- agreement ``pricing``: a ``oneOf`` discriminator without a mapping, so ``LEGACY`` resolves to a missing
  ``#/components/schemas/LEGACY``; the value is checked against ``LegacyPricingResponse`` instead.
- agreement ``countryCode``: ``enum: [NO]`` is read by YAML as ``[false]`` (the Norway problem).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator
from requests.structures import CaseInsensitiveDict

SPEC_DIR = (Path(__file__).parents[2] / ".." / "shared" / "specs" / "vipps").resolve()
# The host the specs' servers name; requests are matched as if they had been sent there.
SPEC_HOST = "https://apitest.vipps.no"
SPEC_FILES = {
    "/accesstoken/": "accesstoken.openapi.yaml",
    "/recurring/": "recurring.openapi.yaml",
    "/webhooks/": "webhooks.openapi.yaml",
}

_DIGITS = re.compile(r"\d{10,}")
_ORDER_ID = re.compile(r"[a-zA-Z0-9-]{1,50}")


def load_spec(name: str) -> OpenAPI:
    """A spec file as published; OpenAPI's own check of the file is off (the Recurring file fails it).

    openapi-core parses only ``application/json`` bodies by itself; the Webhooks API answers errors as
    ``application/problem+json``, which is JSON too."""
    config = Config(
        spec_validator_cls=None, extra_media_type_deserializers={"application/problem+json": json.loads}
    )
    return OpenAPI.from_file_path(str(SPEC_DIR / name), config=config)


def _schema_errors(exc: BaseException) -> list[Any]:
    seen: BaseException | None = exc
    while seen is not None:
        errors = getattr(seen, "schema_errors", None)
        if errors is not None:
            return list(errors)
        seen = seen.__cause__ or seen.__context__
    return []


@dataclass
class Exchange:
    """One validated request and response."""

    spec: str
    method: str
    path: str
    status: int
    tolerated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class SpecChecker:
    """Validates exchanges against the spec their path belongs to; thread-safe."""

    def __init__(self) -> None:
        self.specs = {prefix: load_spec(name) for prefix, name in SPEC_FILES.items()}
        recurring = yaml.safe_load((SPEC_DIR / SPEC_FILES["/recurring/"]).read_text(encoding="utf-8"))
        self._legacy_pricing = OAS30Validator(
            {"$ref": "#/components/schemas/LegacyPricingResponse", "components": recurring["components"]}
        )
        self.exchanges: list[Exchange] = []
        self.unchecked: list[str] = []
        self._lock = threading.Lock()

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """A requests response hook: validate ``response`` and the request that produced it."""
        self.check(response.request, response)
        return response

    def check(self, request: requests.PreparedRequest, response: requests.Response) -> Exchange | None:
        """Validate one request and its response (None: the path belongs to no spec)."""
        parts = urlsplit(str(request.url))
        prefix = next((p for p in self.specs if parts.path.startswith(p)), None)
        if prefix is None:
            with self._lock:
                self.unchecked.append(f"{request.method} {parts.path}")
            return None
        copy = request.copy()
        copy.url = SPEC_HOST + parts.path + (f"?{parts.query}" if parts.query else "")
        spec = self.specs[prefix]
        exchange = Exchange(SPEC_FILES[prefix], str(request.method), parts.path, response.status_code)
        openapi_request = RequestsOpenAPIRequest(copy)
        try:
            spec.validate_request(openapi_request)
        except Exception as exc:
            exchange.errors.append(f"request: {exc!r}: {[e.message for e in _schema_errors(exc)]}")
        try:
            spec.validate_response(openapi_request, RequestsOpenAPIResponse(response))
        except Exception as exc:
            self._sort(exc, exchange)
        with self._lock:
            self.exchanges.append(exchange)
        return exchange

    def check_raw(
        self,
        method: str,
        path_and_query: str,
        headers: Mapping[str, str],
        body: bytes,
        status: int,
        response_headers: Mapping[str, str],
        response_body: bytes,
    ) -> Exchange | None:
        """Validate an exchange as a server saw it (the simulator)."""
        request = requests.Request(
            method, SPEC_HOST + path_and_query, headers=dict(headers), data=body or None
        ).prepare()
        response = requests.Response()
        response.status_code = status
        response._content = response_body
        response.headers = CaseInsensitiveDict(dict(response_headers))
        response.request = request
        response.url = str(request.url)
        return self.check(request, response)

    def _sort(self, exc: Exception, exchange: Exchange) -> None:
        errors = _schema_errors(exc)
        if not errors:
            exchange.errors.append(f"response: {exc!r}")
        for error in errors:
            reason = self._tolerated(error)
            if reason is None:
                exchange.errors.append(f"response: {list(error.absolute_path)} {error.message}")
            else:
                exchange.tolerated.append(reason)

    def _tolerated(self, error: Any) -> str | None:
        path = list(error.absolute_path)
        name = path[-1] if path else None
        value = error.instance
        if name == "transactionId" and (
            value is None or (isinstance(value, str) and _DIGITS.fullmatch(value))
        ):
            return "transactionId"
        if name in ("id", "chargeId") and error.validator == "maxLength" and _ORDER_ID.fullmatch(str(value)):
            return "chargeId maxLength 15"
        legacy = isinstance(value, dict) and value.get("type") == "LEGACY"
        if (
            name == "pricing"
            and error.validator == "oneOf"
            and legacy
            and self._legacy_pricing.is_valid(value)
        ):
            return "pricing discriminator"
        if name == "countryCode" and error.validator == "enum" and value == "NO":
            return "countryCode NO"
        return None

    @property
    def validated(self) -> int:
        """How many exchanges were validated."""
        with self._lock:
            return len(self.exchanges)

    @property
    def failures(self) -> list[str]:
        """Every exchange that broke its spec beyond the known defects."""
        with self._lock:
            return [f"{x.method} {x.path} {x.status}: {e}" for x in self.exchanges for e in x.errors]

    @property
    def tolerated(self) -> set[str]:
        """Which known defects were met."""
        with self._lock:
            return {reason for x in self.exchanges for reason in x.tolerated}
