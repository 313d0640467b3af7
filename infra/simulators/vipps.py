"""A stateful Vipps MobilePay Recurring v3 simulator: a small WSGI app served on 127.0.0.1 in a thread.

It speaks the subset of ../shared/specs/vipps/*.yaml that Abo uses (access token, agreements, charges,
webhook registration), with Vipps' idempotency (same key and body replays the first answer, 4xx too;
same key with another body is 409) and the behaviour the specs leave out (see NOTES.md there): charges
settle when the simulator's clock passes their due date, users approve, reject or stop agreements, and
webhooks are signed like Vipps' and delivered in order with retries.

Test-only endpoints live under ``/simulator``:

- ``GET /simulator/agreements/{id}``: the confirmation page (Approve / Reject buttons posting back)
- ``POST /simulator/agreements/{id}/approve|reject|stop``: the user's actions
- ``POST /simulator/charges/{id}/fail`` ``{"failureReason": ...}``: the charge fails when it settles
- ``GET|POST /simulator/clock`` ``{"now": ...}``: move time forward and settle what fell due
- ``POST /simulator/faults`` ``{"status": 429, "count": 2, "retryAfter": 1}``: answer the next requests
  with an error (optionally only for ``method`` and ``pathPrefix``)
- ``GET /simulator/webhooks``: every delivery attempt
- ``GET /simulator/validation``: with ``validate_spec`` on (or ``ABO_VIPPS_SIMULATOR_VALIDATE=1``), how many
  API exchanges were validated against ../shared/specs/vipps/*.yaml and every failure

Run it alone with ``python -m infra.simulators.vipps --port 8090``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from email.utils import format_datetime
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment
from zoneinfo import ZoneInfo

import requests

from chalicelib.payments.vipps_signature import sign_webhook

if TYPE_CHECKING:
    from infra.simulators.vipps_spec import SpecChecker

OSLO = ZoneInfo("Europe/Oslo")
JSON = "application/json"
# What the specs declare for token responses and Recurring errors.
JSON_UTF8 = "application/json;charset=UTF-8"
PROBLEM_TYPE = "https://developer.vippsmobilepay.com/docs/APIs/recurring-api/recurring-api-problems"
PENDING_AGREEMENT_LIFETIME = timedelta(minutes=10)
TOKEN_LIFETIME_SECONDS = 3600
ORDER_ID = re.compile(r"[a-zA-Z0-9-]{1,50}")
FAILURE_REASONS = ("user_action_required", "charge_amount_too_high", "non_technical_error", "technical_error")
CANCELLABLE = ("PENDING", "DUE", "RESERVED", "PARTIALLY_CAPTURED")
REFUNDABLE = ("CHARGED", "PARTIALLY_CAPTURED", "PARTIALLY_REFUNDED")
INTERVAL_TEXT = {"DAY": "day", "WEEK": "week", "MONTH": "month", "YEAR": "year"}
# Validate every API request and response against the published specs (tests turn it on).
VALIDATE_ENV = "ABO_VIPPS_SIMULATOR_VALIDATE"
_WSGI_FOLDED = {"client-id": "client_id", "client-secret": "client_secret"}


class ApiError(Exception):
    """An error answer: problem JSON as Recurring v3 sends it."""

    def __init__(self, status: int, title: str, detail: str, fields: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.fields = list(fields)


@dataclass
class Answer:
    """One HTTP response."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, content_type: str = JSON) -> Answer:
        """A JSON response."""
        return cls(status, json.dumps(payload).encode("utf-8"), content_type)


@dataclass
class Charge:
    """A charge, as Vipps keeps it."""

    id: str
    agreement_id: str
    amount: int
    description: str
    due: date
    retry_days: int
    type: str
    transaction_type: str
    external_id: str
    status: str = "PENDING"
    captured: int = 0
    refunded: int = 0
    cancelled: int = 0
    failure_reason: str | None = None
    failure_description: str | None = None
    transaction_id: str | None = None
    injected_failure: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Agreement:
    """An agreement, as Vipps keeps it."""

    id: str
    uuid: str
    price: int
    interval_unit: str
    interval_count: int
    product_name: str
    merchant_agreement_url: str
    merchant_redirect_url: str
    created: datetime
    confirmation_url: str
    status: str = "PENDING"
    product_description: str | None = None
    external_id: str | None = None
    phone_number: str | None = None
    start: datetime | None = None
    stop: datetime | None = None
    initial_charge_id: str | None = None


@dataclass(frozen=True)
class WebhookTarget:
    """Where events go, signed with which secret; ``events`` None means every event."""

    url: str
    secret: str
    events: frozenset[str] | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Fault:
    """An injected error for the next ``count`` matching requests."""

    status: int
    count: int
    retry_after: str | None = None
    method: str | None = None
    path_prefix: str = "/"


def iso(instant: datetime) -> str:
    """``2027-01-01T08:00:00Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_instant(due: date) -> datetime:
    """When a charge due on ``due`` is processed: the start of that day in Norway."""
    return datetime.combine(due, day_time(0), tzinfo=OSLO).astimezone(UTC)


class VippsSimulator:
    """Vipps Recurring v3 in memory, behind a WSGI app; every public method is thread-safe."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        subscription_key: str,
        merchant_serial_number: str,
        webhook_secret: str = "",
        callback_url: str | None = None,
        start: datetime | None = None,
        public_url: str = "http://127.0.0.1:8090",
        webhook_backoff: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4),
        sleep: Callable[[float], None] = time.sleep,
        validate_spec: bool | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.subscription_key = subscription_key
        self.msn = merchant_serial_number
        self.public_url = public_url
        self.now = start or datetime.now(UTC)
        self.webhook_backoff = webhook_backoff
        self._sleep = sleep
        self._lock = threading.RLock()
        self.agreements: dict[str, Agreement] = {}
        self.charges: dict[str, Charge] = {}
        self.tokens: dict[str, datetime] = {}
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []
        self._idempotency: dict[str, tuple[str, str, bytes, Answer]] = {}
        self._faults: list[Fault] = []
        self.targets: list[WebhookTarget] = []
        if callback_url:
            self.targets.append(WebhookTarget(callback_url, webhook_secret))
        self.deliveries: list[dict[str, Any]] = []
        self._outbox: list[tuple[WebhookTarget, bytes, str]] = []
        self._outbox_ready = threading.Condition()
        self._in_flight = 0
        self._server: WSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = False
        if validate_spec is None:
            validate_spec = os.environ.get(VALIDATE_ENV, "").lower() in ("1", "true", "yes")
        self.spec_checker: SpecChecker | None = None
        if validate_spec:
            from infra.simulators.vipps_spec import SpecChecker

            self.spec_checker = SpecChecker()

    # -- serving -----------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0: any free port) in background threads; return the base URL."""
        server = make_server(
            host, port, self.wsgi, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._server = server
        self.public_url = f"http://{host}:{server.server_port}"
        self._threads = [
            threading.Thread(target=server.serve_forever, args=(0.05,), name="vipps-simulator", daemon=True),
            threading.Thread(target=self._deliver_forever, name="vipps-webhooks", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self.public_url

    def stop(self) -> None:
        """Stop serving and delivering."""
        with self._outbox_ready:
            self._stopping = True
            self._outbox_ready.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> VippsSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        """The WSGI entry point."""
        method = str(environ["REQUEST_METHOD"]).upper()
        path = str(environ.get("PATH_INFO") or "/")
        query = {k: v[0] for k, v in parse_qs(str(environ.get("QUERY_STRING") or "")).items()}
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = str(environ["CONTENT_TYPE"])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        answer = self.handle(method, path, query, headers, body)
        out_headers = list(answer.headers.items())
        if answer.content_type:
            out_headers.append(("Content-Type", answer.content_type))
        out_headers.append(("Content-Length", str(len(answer.body))))
        if self.spec_checker is not None and not path.startswith("/simulator/"):
            raw_query = str(environ.get("QUERY_STRING") or "")
            # WSGI spells every header as HTTP_NAME, so ``client_id`` and ``client-id`` arrive alike; the
            # token endpoint's two headers are spelled with ``_`` in the spec.
            sent = {_WSGI_FOLDED.get(name, name): value for name, value in headers.items()}
            self.spec_checker.check_raw(
                method,
                path + (f"?{raw_query}" if raw_query else ""),
                sent,
                body,
                answer.status,
                dict(out_headers),
                answer.body,
            )
        start_response(f"{answer.status} {_REASONS.get(answer.status, 'Status')}", out_headers)
        return iter([answer.body])

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        """Answer one request (headers keyed in lower case)."""
        with self._lock:
            self.requests.append((method, path))
            try:
                if path.startswith("/simulator/"):
                    return self._admin(method, path, headers, body)
                fault = self._take_fault(method, path)
                if fault is not None:
                    return fault
                if path == "/accesstoken/get" and method == "POST":
                    return self._token(headers)
                if path.startswith("/webhooks/"):
                    return self._webhooks_api(method, path, headers, body)
                self._authorise(headers)
                return self._idempotent(method, path, query, headers, body)
            except ApiError as problem:
                return self._problem(problem, path)

    # -- helpers -----------------------------------------------------------------------------------

    def _problem(self, problem: ApiError, path: str) -> Answer:
        payload: dict[str, Any] = {
            "type": f"{PROBLEM_TYPE}#{problem.title.lower().replace(' ', '-')}",
            "title": problem.title,
            "status": problem.status,
            "detail": problem.detail,
            "instance": path,
            "contextId": str(uuid.uuid4()),
        }
        if problem.fields:
            payload["extraDetails"] = [{"field": f, "text": t} for f, t in problem.fields]
        return Answer.json(problem.status, payload, JSON_UTF8)

    def _take_fault(self, method: str, path: str) -> Answer | None:
        for fault in self._faults:
            if fault.count > 0 and (fault.method in (None, method)) and path.startswith(fault.path_prefix):
                fault.count -= 1
                title = "Too Many Requests" if fault.status == 429 else "Service Unavailable"
                answer = self._problem(ApiError(fault.status, title, "injected by the simulator"), path)
                if fault.retry_after is not None:
                    answer.headers["Retry-After"] = fault.retry_after
                return answer
        return None

    def _authorise(self, headers: dict[str, str]) -> None:
        if headers.get("ocp-apim-subscription-key") != self.subscription_key:
            raise ApiError(401, "Unauthorized", "Access denied due to invalid subscription key")
        scheme, _, token = headers.get("authorization", "").partition(" ")
        expires = self.tokens.get(token)
        if scheme != "Bearer" or expires is None or expires <= self.now:
            raise ApiError(401, "Unauthorized", "The access token is missing, unknown or expired")

    def _token(self, headers: dict[str, str]) -> Answer:
        if (
            headers.get("client-id") != self.client_id
            or headers.get("client-secret") != self.client_secret
            or headers.get("ocp-apim-subscription-key") != self.subscription_key
        ):
            return Answer(401)
        self.token_requests += 1
        token = base64.b64encode(secrets.token_bytes(48)).decode("ascii")
        self.tokens[token] = self.now + timedelta(seconds=TOKEN_LIFETIME_SECONDS)
        issued = int(self.now.timestamp())
        payload = {
            "token_type": "Bearer",
            "expires_in": str(TOKEN_LIFETIME_SECONDS),
            "ext_expires_in": "0",
            "expires_on": str(issued + TOKEN_LIFETIME_SECONDS),
            "not_before": str(issued),
            "resource": "00000002-0000-0000-c000-000000000000",
            "access_token": token,
        }
        return Answer.json(200, payload, JSON_UTF8)

    def _idempotent(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        if method == "GET":
            return self._api(method, path, query, body, "")
        key = headers.get("idempotency-key", "")
        if not 1 <= len(key) <= 40 or any(c in key for c in "#?/\\"):
            raise ApiError(400, "Bad Request", "Idempotency-Key must be 1-40 characters without #?/\\")
        seen = self._idempotency.get(key)
        if seen is not None:
            if seen[:3] == (method, path, body):
                return seen[3]
            raise ApiError(409, "Conflict", "The Idempotency-Key was used with another request")
        answer = self._api(method, path, query, body, key)
        self._idempotency[key] = (method, path, body, answer)
        return answer

    def _json_body(self, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body or b"null")
        except ValueError as exc:
            raise ApiError(400, "Bad Request", "The body is not JSON") from exc
        if not isinstance(payload, dict):
            raise ApiError(400, "Bad Request", "The body must be a JSON object")
        return payload

    def _agreement(self, agreement_id: str) -> Agreement:
        agreement = self.agreements.get(agreement_id)
        if agreement is None:
            raise ApiError(404, "Not Found", f"Agreement {agreement_id} was not found")
        return agreement

    def _charge(self, agreement_id: str, charge_id: str) -> Charge:
        charge = self.charges.get(charge_id)
        if charge is None or charge.agreement_id != agreement_id:
            raise ApiError(404, "Not Found", f"Charge {charge_id} was not found on agreement {agreement_id}")
        return charge

    @staticmethod
    def _int(payload: dict[str, Any], name: str, low: int, high: int = 2**31 - 1) -> int:
        value = payload.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ApiError(
                400, "Bad Request", f"{name} must be an integer from {low} to {high}", [(name, "invalid")]
            )
        return value

    @staticmethod
    def _text(payload: dict[str, Any], name: str, max_length: int, required: bool = True) -> str | None:
        value = payload.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= max_length:
            raise ApiError(
                400, "Bad Request", f"{name} must be 1-{max_length} characters", [(name, "invalid")]
            )
        return value

    def _event(self, charge: Charge, event: str, amount: int, key: str, success: bool = True) -> None:
        charge.history.append(
            {
                "occurred": iso(self.now),
                "event": event,
                "amount": amount,
                "idempotencyKey": key,
                "success": success,
            }
        )

    # -- the Recurring API -------------------------------------------------------------------------

    def _api(self, method: str, path: str, query: dict[str, str], body: bytes, key: str) -> Answer:
        parts = path.strip("/").split("/")
        if parts[:3] == ["recurring", "v3", "charges"] and len(parts) == 4 and method == "GET":
            charge = self.charges.get(parts[3])
            if charge is None:
                raise ApiError(404, "Not Found", f"Charge {parts[3]} was not found")
            return Answer.json(200, self._charge_json(charge))
        if parts[:3] != ["recurring", "v3", "agreements"]:
            raise ApiError(404, "Not Found", f"No route for {method} {path}")
        rest = parts[3:]
        if not rest:
            if method == "POST":
                return self._draft(self._json_body(body), key)
            if method == "GET":
                wanted = query.get("status", "ACTIVE")
                listed = [self._agreement_json(a) for a in self.agreements.values() if a.status == wanted]
                return Answer.json(200, listed)
        elif len(rest) == 1:
            agreement = self._agreement(rest[0])
            if method == "GET":
                return Answer.json(200, self._agreement_json(agreement))
            if method == "PATCH":
                return self._patch(agreement, self._json_body(body), key)
        elif len(rest) == 2 and rest[1] == "charges":
            agreement = self._agreement(rest[0])
            if method == "POST":
                return self._create_charge(agreement, self._json_body(body), key)
            if method == "GET":
                charges = [c for c in self.charges.values() if c.agreement_id == agreement.id]
                if "status" in query:
                    charges = [c for c in charges if c.status == query["status"]]
                return Answer.json(200, [self._charge_json(c) for c in charges])
        elif len(rest) == 3 and rest[1] == "charges":
            charge = self._charge(rest[0], rest[2])
            if method == "GET":
                return Answer.json(200, self._charge_json(charge))
            if method == "DELETE":
                return self._cancel_charge(charge, key)
        elif len(rest) == 4 and rest[1] == "charges" and method == "POST":
            charge = self._charge(rest[0], rest[2])
            if rest[3] == "refund":
                return self._refund(charge, self._json_body(body), key)
            if rest[3] == "capture":
                return self._capture(charge, self._json_body(body), key)
        raise ApiError(404, "Not Found", f"No route for {method} {path}")

    def _draft(self, payload: dict[str, Any], key: str) -> Answer:
        pricing = payload.get("pricing")
        interval = payload.get("interval")
        if not isinstance(pricing, dict) or pricing.get("currency") != "NOK":
            raise ApiError(400, "Bad Request", "pricing.currency must be NOK", [("pricing", "invalid")])
        if pricing.get("type", "LEGACY") != "LEGACY":
            raise ApiError(
                400, "Bad Request", "the simulator supports LEGACY pricing only", [("pricing.type", "")]
            )
        if not isinstance(interval, dict) or interval.get("unit") not in INTERVAL_TEXT:
            raise ApiError(
                400, "Bad Request", "interval.unit must be DAY, WEEK, MONTH or YEAR", [("interval", "")]
            )
        agreement_id = f"agr_{secrets.token_hex(4)}"
        agreement = Agreement(
            id=agreement_id,
            uuid=str(uuid.uuid4()),
            price=self._int(pricing, "amount", 100),
            interval_unit=str(interval["unit"]),
            interval_count=self._int(interval, "count", 1, 31),
            product_name=str(self._text(payload, "productName", 45)),
            merchant_agreement_url=str(self._text(payload, "merchantAgreementUrl", 1024)),
            merchant_redirect_url=str(self._text(payload, "merchantRedirectUrl", 1024)),
            created=self.now,
            confirmation_url=f"{self.public_url}/simulator/agreements/{agreement_id}",
            product_description=self._text(payload, "productDescription", 100, required=False),
            external_id=self._text(payload, "externalId", 64, required=False),
            phone_number=self._text(payload, "phoneNumber", 15, required=False),
        )
        initial = payload.get("initialCharge")
        charge: Charge | None = None
        if initial is not None:
            if not isinstance(initial, dict):
                raise ApiError(400, "Bad Request", "initialCharge must be an object", [("initialCharge", "")])
            charge = self._new_charge(agreement, initial, "INITIAL", self.now.astimezone(OSLO).date(), 0, key)
            agreement.initial_charge_id = charge.id
        self.agreements[agreement.id] = agreement
        if charge is not None:
            self.charges[charge.id] = charge
        response = {
            "agreementId": agreement.id,
            "uuid": agreement.uuid,
            "vippsConfirmationUrl": agreement.confirmation_url,
            "chargeId": charge.id if charge else None,
        }
        return Answer.json(201, response)

    def _new_charge(
        self, agreement: Agreement, payload: dict[str, Any], kind: str, due: date, retry_days: int, key: str
    ) -> Charge:
        transaction_type = payload.get("transactionType")
        if transaction_type not in ("DIRECT_CAPTURE", "RESERVE_CAPTURE"):
            raise ApiError(400, "Bad Request", "transactionType is not valid", [("transactionType", "")])
        order_id = payload.get("orderId")
        if order_id is None:
            order_id = f"chr-{secrets.token_hex(5)}"
        elif not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
            raise ApiError(
                400, "Bad Request", "orderId must be 1-50 of [a-zA-Z0-9-]", [("orderId", "invalid")]
            )
        if order_id in self.charges:
            raise ApiError(409, "Conflict", f"orderId {order_id} is already used", [("orderId", "duplicate")])
        charge = Charge(
            id=order_id,
            agreement_id=agreement.id,
            amount=self._int(payload, "amount", 1 if kind == "INITIAL" else 100),
            description=str(self._text(payload, "description", 100)),
            due=due,
            retry_days=retry_days,
            type=kind,
            transaction_type=str(transaction_type),
            external_id=self._text(payload, "externalId", 64, required=False) or order_id,
        )
        self._event(charge, "CREATE", charge.amount, key)
        return charge

    def _create_charge(self, agreement: Agreement, payload: dict[str, Any], key: str) -> Answer:
        if agreement.status != "ACTIVE":
            raise ApiError(400, "Bad Request", f"Agreement {agreement.id} is {agreement.status}, not ACTIVE")
        try:
            due = date.fromisoformat(str(payload.get("due")))
        except ValueError as exc:
            raise ApiError(400, "Bad Request", "due must be YYYY-MM-DD", [("due", "invalid")]) from exc
        today = self.now.astimezone(OSLO).date()
        # Since October 2025 the lead time is one day; at most two years ahead.
        if not today + timedelta(days=1) <= due <= today + timedelta(days=730):
            raise ApiError(
                400, "Bad Request", "due must be from tomorrow to two years ahead", [("due", "invalid")]
            )
        retry_days = self._int(payload, "retryDays", 0, 14)
        charge = self._new_charge(agreement, payload, "RECURRING", due, retry_days, key)
        self.charges[charge.id] = charge
        return Answer.json(201, {"chargeId": charge.id})

    def _patch(self, agreement: Agreement, payload: dict[str, Any], key: str) -> Answer:
        status = payload.get("status")
        if status not in (None, "STOPPED"):
            raise ApiError(400, "Bad Request", "status can only become STOPPED", [("status", "invalid")])
        if agreement.status in ("STOPPED", "EXPIRED") and status is None:
            raise ApiError(400, "Bad Request", f"Agreement {agreement.id} is {agreement.status}")
        for name, attr, limit in (
            ("productName", "product_name", 45),
            ("productDescription", "product_description", 100),
            ("merchantAgreementUrl", "merchant_agreement_url", 1024),
            ("externalId", "external_id", 64),
        ):
            if name in payload:
                setattr(agreement, attr, self._text(payload, name, limit))
        pricing = payload.get("pricing")
        if isinstance(pricing, dict) and "amount" in pricing:
            agreement.price = self._int(pricing, "amount", 100)
        if status == "STOPPED" and agreement.status in ("PENDING", "ACTIVE"):
            self._stop(agreement, "MERCHANT", ("PENDING", "DUE", "RESERVED"), key)
        return Answer(204)

    def _stop(self, agreement: Agreement, actor: str, cancel: tuple[str, ...], key: str) -> None:
        agreement.status = "STOPPED"
        agreement.stop = self.now
        self._emit_agreement(agreement, "recurring.agreement-stopped.v1", actor=actor)
        for charge in self.charges.values():
            if charge.agreement_id == agreement.id and charge.status in cancel:
                self._cancel(charge, key or f"stop-{agreement.id}")

    def _cancel(self, charge: Charge, key: str) -> None:
        remaining = charge.amount - charge.captured
        charge.cancelled += remaining
        charge.status = "CANCELLED"
        self._event(charge, "CANCEL", remaining, key)
        self._emit_charge(charge, "recurring.charge-canceled.v1")

    def _cancel_charge(self, charge: Charge, key: str) -> Answer:
        if charge.status not in CANCELLABLE:
            raise ApiError(
                400, "Bad Request", f"Charge {charge.id} is {charge.status} and cannot be cancelled"
            )
        self._cancel(charge, key)
        return Answer(204)

    def _refund(self, charge: Charge, payload: dict[str, Any], key: str) -> Answer:
        amount = self._int(payload, "amount", 100)
        self._text(payload, "description", 100)
        if charge.status not in REFUNDABLE:
            raise ApiError(
                400, "Bad Request", f"Charge {charge.id} is {charge.status} and cannot be refunded"
            )
        if amount > charge.captured - charge.refunded:
            raise ApiError(
                400,
                "Bad Request",
                f"Refund of {amount} exceeds the {charge.captured - charge.refunded} left on {charge.id}",
                [("amount", "too high")],
            )
        charge.refunded += amount
        charge.status = "REFUNDED" if charge.refunded == charge.captured else "PARTIALLY_REFUNDED"
        self._event(charge, "REFUND", amount, key)
        self._emit_charge(charge, "recurring.charge-refunded.v1", amount=amount)
        return Answer(204)

    def _capture(self, charge: Charge, payload: dict[str, Any], key: str) -> Answer:
        amount = self._int(payload, "amount", 100)
        self._text(payload, "description", 100)
        if charge.status != "RESERVED" or amount > charge.amount:
            raise ApiError(400, "Bad Request", f"Charge {charge.id} cannot be captured ({charge.status})")
        charge.captured = amount
        charge.cancelled = charge.amount - amount
        charge.status = "CHARGED" if amount == charge.amount else "PARTIALLY_CAPTURED"
        charge.transaction_id = charge.transaction_id or self._transaction_id()
        self._event(charge, "CAPTURE", amount, key)
        self._emit_charge(charge, "recurring.charge-captured.v1", amount=amount)
        return Answer(204)

    # -- responses ---------------------------------------------------------------------------------

    def _agreement_json(self, agreement: Agreement) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": agreement.id,
            "uuid": agreement.uuid,
            "status": agreement.status,
            "pricing": {"type": "LEGACY", "currency": "NOK", "amount": agreement.price},
            "interval": {
                "unit": agreement.interval_unit,
                "count": agreement.interval_count,
                "text": f"every {agreement.interval_count} {INTERVAL_TEXT[agreement.interval_unit]}",
            },
            "productName": agreement.product_name,
            "created": iso(agreement.created),
            "start": iso(agreement.start) if agreement.start else None,
            "stop": iso(agreement.stop) if agreement.stop else None,
            "merchantAgreementUrl": agreement.merchant_agreement_url,
            "merchantRedirectUrl": agreement.merchant_redirect_url,
            "countryCode": "NO",
            "sub": None,
            "userinfoUrl": None,
            "vippsConfirmationUrl": agreement.confirmation_url,
        }
        if agreement.product_description:
            payload["productDescription"] = agreement.product_description
        if agreement.external_id:
            payload["externalId"] = agreement.external_id
        return payload

    def _charge_json(self, charge: Charge) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": charge.id,
            "agreementId": charge.agreement_id,
            "amount": charge.amount,
            "currency": "NOK",
            "description": charge.description,
            "due": iso(due_instant(charge.due)),
            "status": charge.status,
            # Vipps sends null here until the charge is CHARGED (see the contract test's deviations).
            "transactionId": charge.transaction_id,
            "type": charge.type,
            "transactionType": charge.transaction_type,
            "externalId": charge.external_id,
            "retryDays": charge.retry_days,
            "summary": {
                "captured": charge.captured,
                "refunded": charge.refunded,
                "cancelled": charge.cancelled,
            },
            "history": list(charge.history),
        }
        external_agreement = self.agreements[charge.agreement_id].external_id
        if external_agreement:
            payload["externalAgreementId"] = external_agreement
        if charge.failure_reason:
            payload["failureReason"] = charge.failure_reason
            payload["failureDescription"] = charge.failure_description or charge.failure_reason
        return payload

    @staticmethod
    def _transaction_id() -> str:
        return str(secrets.randbelow(9 * 10**9) + 10**9)

    # -- time and settlement -----------------------------------------------------------------------

    def advance(self, now: datetime) -> list[str]:
        """Move the clock to ``now`` (never back) and settle; return the ids of charges that settled."""
        with self._lock:
            if now < self.now:
                raise ApiError(400, "Bad Request", f"the clock is at {iso(self.now)} and never moves back")
            self.now = now
            for agreement in self.agreements.values():
                if agreement.status == "PENDING" and now >= agreement.created + PENDING_AGREEMENT_LIFETIME:
                    self._expire(agreement)
            settled: list[str] = []
            for charge in self.charges.values():
                if charge.type != "RECURRING" or charge.status not in ("PENDING", "DUE"):
                    continue
                if self.agreements[charge.agreement_id].status != "ACTIVE":
                    continue
                if now >= due_instant(charge.due):
                    self._settle(charge, f"settle-{charge.id}")
                    settled.append(charge.id)
                elif now >= due_instant(charge.due) - timedelta(days=1):
                    charge.status = "DUE"
            return settled

    def _settle(self, charge: Charge, key: str) -> None:
        if charge.injected_failure:
            charge.status = "FAILED"
            charge.failure_reason = charge.injected_failure
            charge.failure_description = f"simulated: {charge.injected_failure}"
            self._event(charge, "FAIL", charge.amount, key, success=False)
            self._emit_charge(charge, "recurring.charge-failed.v1")
        elif charge.transaction_type == "RESERVE_CAPTURE":
            charge.status = "RESERVED"
            self._event(charge, "RESERVE", charge.amount, key)
            self._emit_charge(charge, "recurring.charge-reserved.v1")
        else:
            charge.status = "CHARGED"
            charge.captured = charge.amount
            charge.transaction_id = self._transaction_id()
            self._event(charge, "CAPTURE", charge.amount, key)
            self._emit_charge(charge, "recurring.charge-captured.v1")

    def _expire(self, agreement: Agreement) -> None:
        agreement.status = "EXPIRED"
        agreement.stop = self.now
        self._emit_agreement(agreement, "recurring.agreement-expired.v1")
        if agreement.initial_charge_id and self.charges[agreement.initial_charge_id].status == "PENDING":
            self._cancel(self.charges[agreement.initial_charge_id], f"expire-{agreement.id}")

    # -- the user's side ---------------------------------------------------------------------------

    def approve(self, agreement_id: str) -> Agreement:
        """The user approves in the app: the initial charge is taken (or fails, expiring the agreement)."""
        with self._lock:
            agreement = self._agreement(agreement_id)
            if agreement.status != "PENDING":
                raise ApiError(400, "Bad Request", f"Agreement {agreement_id} is {agreement.status}")
            charge = self.charges.get(agreement.initial_charge_id or "")
            if charge is not None and charge.injected_failure:
                self._settle(charge, f"approve-{agreement_id}")
                self._expire(agreement)
                return agreement
            agreement.status = "ACTIVE"
            agreement.start = self.now
            self._emit_agreement(agreement, "recurring.agreement-activated.v1")
            if charge is not None:
                self._settle(charge, f"approve-{agreement_id}")
            return agreement

    def reject(self, agreement_id: str) -> Agreement:
        """The user rejects the agreement in the app."""
        with self._lock:
            agreement = self._agreement(agreement_id)
            if agreement.status != "PENDING":
                raise ApiError(400, "Bad Request", f"Agreement {agreement_id} is {agreement.status}")
            agreement.status = "STOPPED"
            agreement.stop = self.now
            self._emit_agreement(agreement, "recurring.agreement-rejected.v1")
            charge = self.charges.get(agreement.initial_charge_id or "")
            if charge is not None:
                self._cancel(charge, f"reject-{agreement_id}")
            return agreement

    def user_stop(self, agreement_id: str) -> Agreement:
        """The user stops the agreement in the app: reserved charges survive, for us to settle."""
        with self._lock:
            agreement = self._agreement(agreement_id)
            if agreement.status != "ACTIVE":
                raise ApiError(400, "Bad Request", f"Agreement {agreement_id} is {agreement.status}")
            self._stop(agreement, "USER", ("PENDING", "DUE"), f"user-stop-{agreement_id}")
            return agreement

    def fail_charge(self, charge_id: str, reason: str) -> Charge:
        """Make the charge fail with ``reason`` when it is next processed."""
        with self._lock:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise ApiError(404, "Not Found", f"Charge {charge_id} was not found")
            if reason not in FAILURE_REASONS:
                raise ApiError(
                    400, "Bad Request", f"failureReason must be one of {', '.join(FAILURE_REASONS)}"
                )
            charge.injected_failure = reason
            return charge

    def inject_fault(
        self,
        status: int,
        count: int = 1,
        retry_after: str | None = None,
        method: str | None = None,
        path_prefix: str = "/",
    ) -> None:
        """Answer the next ``count`` matching API requests with ``status``."""
        with self._lock:
            self._faults.append(Fault(status, count, retry_after, method, path_prefix))

    # -- admin endpoints ---------------------------------------------------------------------------

    def _admin(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        parts = path.strip("/").split("/")[1:]
        form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
        if parts[:1] == ["agreements"] and len(parts) == 2 and method == "GET":
            return self._confirmation_page(self._agreement(parts[1]))
        if parts[:1] == ["agreements"] and len(parts) == 3 and method == "POST":
            actions = {"approve": self.approve, "reject": self.reject, "stop": self.user_stop}
            if parts[2] in actions:
                agreement = actions[parts[2]](parts[1])
                if form:
                    return Answer(303, headers={"Location": agreement.merchant_redirect_url})
                return Answer.json(200, self._agreement_json(agreement))
        if parts[:1] == ["charges"] and len(parts) == 3 and parts[2] == "fail" and method == "POST":
            payload = self._json_body(body)
            charge = self.fail_charge(parts[1], str(payload.get("failureReason", "")))
            return Answer.json(200, self._charge_json(charge))
        if parts == ["clock"]:
            settled: list[str] = []
            if method == "POST":
                raw = self._json_body(body).get("now")
                try:
                    target = datetime.fromisoformat(str(raw))
                except ValueError as exc:
                    raise ApiError(400, "Bad Request", "now must be an ISO 8601 instant") from exc
                if target.tzinfo is None:
                    raise ApiError(400, "Bad Request", "now must carry a time zone")
                settled = self.advance(target)
            return Answer.json(200, {"now": iso(self.now), "settled": settled})
        if parts == ["faults"] and method == "POST":
            payload = self._json_body(body)
            retry_after = payload.get("retryAfter")
            self.inject_fault(
                status=self._int(payload, "status", 400, 599),
                count=self._int(payload, "count", 1) if "count" in payload else 1,
                retry_after=None if retry_after is None else str(retry_after),
                method=payload.get("method"),
                path_prefix=str(payload.get("pathPrefix", "/")),
            )
            return Answer(204)
        if parts == ["webhooks"] and method == "GET":
            return Answer.json(200, {"deliveries": list(self.deliveries), "pending": self._in_flight})
        if parts == ["validation"] and method == "GET":
            checker = self.spec_checker
            if checker is None:
                return Answer.json(200, {"enabled": False, "validated": 0, "failures": []})
            return Answer.json(
                200,
                {
                    "enabled": True,
                    "validated": checker.validated,
                    "failures": checker.failures,
                    "tolerated": sorted(checker.tolerated),
                },
            )
        raise ApiError(404, "Not Found", f"No simulator route for {method} {path}")

    def _confirmation_page(self, agreement: Agreement) -> Answer:
        kroner, ore = divmod(agreement.price, 100)
        name = html.escape(agreement.product_name)
        buttons = ""
        if agreement.status == "PENDING":
            buttons = "".join(
                f'<form method="post" action="/simulator/agreements/{agreement.id}/{action}">'
                f'<button type="submit" name="action" value="{action}">{label}</button></form>'
                for action, label in (("approve", "Approve"), ("reject", "Reject"))
            )
        initial = self.charges.get(agreement.initial_charge_id or "")
        first = (
            f"<p>First payment: kr {initial.amount // 100},{initial.amount % 100:02d}</p>" if initial else ""
        )
        page = (
            "<!doctype html><html lang='nb'><head><meta charset='utf-8'>"
            "<title>Vipps (simulator)</title></head>"
            f"<body><h1>{name}</h1><p>kr {kroner},{ore:02d} every {agreement.interval_count} "
            f"{INTERVAL_TEXT[agreement.interval_unit]}</p>{first}"
            f"<p>Status: {agreement.status}</p>{buttons}</body></html>"
        )
        return Answer(200, page.encode("utf-8"), "text/html; charset=utf-8")

    # -- the Webhooks API and delivery -------------------------------------------------------------

    def _webhooks_api(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        def problem(detail: str) -> Answer:
            payload = {"title": "Bad Request", "status": 400, "detail": detail, "instance": path}
            return Answer.json(400, payload, "application/problem+json")

        try:
            self._authorise(headers)
        except ApiError as exc:
            return problem(exc.detail)
        if path == "/webhooks/v1/webhooks" and method == "GET":
            listed = [
                {"id": t.id, "url": t.url, "events": sorted(t.events or [])} for t in self.targets if t.events
            ]
            return Answer.json(200, {"webhooks": listed})
        if path == "/webhooks/v1/webhooks" and method == "POST":
            try:
                payload = self._json_body(body)
            except ApiError as exc:
                return problem(exc.detail)
            url, events = payload.get("url"), payload.get("events")
            if not isinstance(url, str) or not isinstance(events, list) or not events:
                return problem("url and events are required")
            target = WebhookTarget(url, secrets.token_urlsafe(32), frozenset(str(e) for e in events))
            self.targets.append(target)
            return Answer.json(201, {"id": target.id, "secret": target.secret})
        return problem(f"No route for {method} {path}")

    def _emit_agreement(self, agreement: Agreement, event_type: str, actor: str | None = None) -> None:
        payload: dict[str, Any] = {
            "agreementId": agreement.id,
            "agreementExternalId": agreement.external_id,
            "eventType": event_type,
            "occurred": iso(self.now),
            "actor": actor,
            "msn": self.msn,
        }
        self._enqueue(event_type, payload)

    def _emit_charge(self, charge: Charge, event_type: str, amount: int | None = None) -> None:
        payload: dict[str, Any] = {
            "agreementId": charge.agreement_id,
            "agreementExternalId": self.agreements[charge.agreement_id].external_id,
            "chargeId": charge.id,
            "chargeExternalId": charge.external_id,
            "chargeType": charge.type,
            "amount": charge.amount if amount is None else amount,
            "currency": "NOK",
            "eventType": event_type,
            "occurred": iso(self.now),
            "msn": self.msn,
            "failureReason": charge.failure_reason if event_type.endswith("failed.v1") else None,
            "transactionId": charge.transaction_id,
        }
        self._enqueue(event_type, payload)

    def _enqueue(self, event_type: str, payload: dict[str, Any]) -> None:
        # Null fields are omitted since January 2025.
        body = json.dumps({k: v for k, v in payload.items() if v is not None}).encode("utf-8")
        with self._outbox_ready:
            for target in self.targets:
                if target.events is None or event_type in target.events:
                    self._outbox.append((target, body, event_type))
                    self._in_flight += 1
            self._outbox_ready.notify_all()

    def _deliver_forever(self) -> None:
        while True:
            with self._outbox_ready:
                while not self._outbox and not self._stopping:
                    self._outbox_ready.wait()
                if self._stopping:
                    return
                target, body, event_type = self._outbox.pop(0)
            try:
                self._deliver(target, body, event_type)
            finally:
                with self._outbox_ready:
                    self._in_flight -= 1
                    self._outbox_ready.notify_all()

    def _deliver(self, target: WebhookTarget, body: bytes, event_type: str) -> None:
        # In order per registration: the next event waits until this one is delivered or given up.
        for attempt in range(1, len(self.webhook_backoff) + 2):
            date_header = format_datetime(self.now.astimezone(UTC), usegmt=True)
            headers = {"Content-Type": JSON, **sign_webhook(target.secret, target.url, body, date_header)}
            try:
                status: int | str = requests.post(
                    target.url, data=body, headers=headers, timeout=10
                ).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.deliveries.append(
                {
                    "url": target.url,
                    "eventType": event_type,
                    "attempt": attempt,
                    "status": status,
                    "bodySha256": hashlib.sha256(body).hexdigest(),
                }
            )
            if isinstance(status, int) and 200 <= status < 300:
                return
            if attempt <= len(self.webhook_backoff) and not self._stopping:
                self._sleep(self.webhook_backoff[attempt - 1])

    def wait_for_webhooks(self, timeout: float = 10.0) -> None:
        """Block until every queued webhook is delivered or given up."""
        deadline = time.monotonic() + timeout
        with self._outbox_ready:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._in_flight} webhooks still in flight")
                self._outbox_ready.wait(left)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: tests and ``make run`` would drown in them."""


_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def main(argv: list[str] | None = None) -> None:
    """Run the simulator in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Vipps Recurring v3 simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--client-id", default="00000000-0000-4000-8000-000000000001")
    parser.add_argument("--client-secret", default="local-client-secret")
    parser.add_argument("--subscription-key", default="local-subscription-key")
    parser.add_argument("--msn", default="123456")
    parser.add_argument("--webhook-secret", default="local-webhook-secret")
    parser.add_argument("--callback-url", default="http://127.0.0.1:8000/v1/callbacks/vipps")
    args = parser.parse_args(argv)
    simulator = VippsSimulator(
        client_id=args.client_id,
        client_secret=args.client_secret,
        subscription_key=args.subscription_key,
        merchant_serial_number=args.msn,
        webhook_secret=args.webhook_secret,
        callback_url=args.callback_url,
    )
    url = simulator.start(args.host, args.port)
    print(f"Vipps simulator  {url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        simulator.stop()


if __name__ == "__main__":
    main()
