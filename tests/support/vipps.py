"""The Vipps simulator, our client pointed at it, a webhook receiver, and a checker that validates every
request and response against the published specs in ../shared/specs/vipps (read in place, never copied).

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
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator

from chalicelib.payments.settings import VippsSettings

SPEC_DIR = (Path(__file__).parents[2] / ".." / "shared" / "specs" / "vipps").resolve()
# The host the specs' servers name; our requests go to the simulator and are matched as if sent there.
SPEC_HOST = "https://apitest.vipps.no"
SPEC_FILES = {
    "/accesstoken/": "accesstoken.openapi.yaml",
    "/recurring/": "recurring.openapi.yaml",
    "/webhooks/": "webhooks.openapi.yaml",
}

CLIENT_ID = "6a4e2f8c-0d3b-4b9e-9a51-2f0c1d7e8b90"
CLIENT_SECRET = "simulated-client-secret"
SUBSCRIPTION_KEY = "simulated-subscription-key"
MSN = "123456"
WEBHOOK_SECRET = "simulated-webhook-secret"

_DIGITS = re.compile(r"\d{10,}")
_ORDER_ID = re.compile(r"[a-zA-Z0-9-]{1,50}")


def vipps_settings(base_url: str, **overrides: Any) -> VippsSettings:
    """Settings for a client of the simulator at ``base_url``."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "subscription_key": SUBSCRIPTION_KEY,
        "merchant_serial_number": MSN,
        "webhook_secret": WEBHOOK_SECRET,
    }
    values.update(overrides)
    return VippsSettings.model_validate(values)


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
    """A requests response hook: validates the exchange against the spec its path belongs to."""

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
        """Validate ``response`` and the request that produced it."""
        request = response.request
        parts = urlsplit(str(request.url))
        prefix = next((p for p in self.specs if parts.path.startswith(p)), None)
        if prefix is None:
            with self._lock:
                self.unchecked.append(f"{request.method} {parts.path}")
            return response
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
        return response

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
    def failures(self) -> list[str]:
        """Every exchange that broke its spec beyond the known defects."""
        return [f"{x.method} {x.path} {x.status}: {e}" for x in self.exchanges for e in x.errors]

    @property
    def tolerated(self) -> set[str]:
        """Which known defects were met."""
        return {reason for x in self.exchanges for reason in x.tolerated}


@dataclass
class Received:
    """One webhook as our endpoint received it."""

    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A local HTTP endpoint that records webhooks and answers ``failures`` with 500 before succeeding."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                status = 500 if receiver.failures > 0 else 204
                receiver.failures -= 1 if receiver.failures > 0 else 0
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/v1/callbacks/vipps"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
