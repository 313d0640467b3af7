"""A local Stripe: localstripe in a subprocess, behind a thin shim for what it lacks, on 127.0.0.1.

localstripe (a stateful fake of the Stripe API) runs in its own process on a private port, with three
small changes applied there: its store is never pickled to ``/tmp`` (so parallel runs cannot share or
clobber state), the test card ids Stripe documents and it does not know resolve to their cards, and the
cards Stripe declines when charged decline when charged.

The shim is a WSGI proxy in front of it that adds the Stripe behaviour our adapter depends on:

- **idempotency**: a ``POST`` with an ``Idempotency-Key`` already answered replays the saved answer (2xx
  and 402 card errors, as Stripe saves results once a request executed) with ``Idempotent-Replayed: true``;
  the same key with other parameters is a 400 ``idempotency_error``; while the first is running, a 409.
- **off-session authentication**: an off-session confirmation of a card that needs authentication
  (``pm_card_authenticationRequired``, 4000 0027 6000 3184) fails with a 402 ``authentication_required``
  card error and leaves the PaymentIntent in ``requires_payment_method``, payable again on session.
- **card errors** carry ``type: card_error``, the ``decline_code`` and the failed ``payment_intent``.
- parameters localstripe refuses (``description``, ``setup_future_usage``, ``allowed_payment_method_types``,
  ...) are taken off and echoed back on the PaymentIntent; ``setup_future_usage`` and a confirmed
  SetupIntent save the card on the customer; ``confirm`` accepts a ``payment_method``; PaymentIntents
  list by ``customer``; ``GET /v1/customers/{id}/payment_methods`` works.
- **Stripe.js**: a PaymentIntent is confirmed (and its 3-D Secure step completed through localstripe's
  ``_authenticate``) with a publishable key (``Bearer pk_...`` or ``key=pk_...``) and the intent's client
  secret, as a payment page does in the browser; a wrong client secret is refused.

Run it alone with ``python -m infra.simulators.stripe --port 8420``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

import requests

JSON = "application/json"
ROOT = Path(__file__).resolve().parents[2]

# Stripe's documented test payment methods: id → card number.
TEST_PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
}
# Cards declined when charged: number → (error code, decline code).
DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline"),
    "4000000000009995": ("card_declined", "insufficient_funds"),
    "4000000000009987": ("card_declined", "lost_card"),
    "4000000000009979": ("card_declined", "stolen_card"),
    "4000000000000069": ("expired_card", "expired_card"),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc"),
    "4000000000000119": ("processing_error", "processing_error"),
    "4000000000000341": ("card_declined", "generic_decline"),
}
AUTHENTICATION_REQUIRED = {
    "code": "authentication_required",
    "decline_code": "authentication_required",
    "message": "Your card was declined. This transaction requires authentication.",
    "type": "card_error",
}
# What localstripe's PaymentIntent takes; anything else is taken off and echoed back.
PAYMENT_INTENT_PARAMS = frozenset(
    {
        "amount",
        "currency",
        "customer",
        "payment_method",
        "metadata",
        "payment_method_types",
        "capture_method",
        "payment_method_options",
        "confirm",
        "off_session",
        "expand",
    }
)
SETUP_INTENT_PARAMS = frozenset({"customer", "usage", "payment_method_types", "metadata", "expand"})
CONFIRM_PARAMS = frozenset({"client_secret", "expand"})
ECHOED = frozenset({"description", "setup_future_usage", "receipt_email", "statement_descriptor_suffix"})


def fingerprint(number: str) -> str:
    """localstripe's card fingerprint: the first 16 hex digits of the number's SHA-1."""
    return hashlib.sha1(number.encode("utf-8")).hexdigest()[:16]  # noqa: S324 - not for security


DECLINES_BY_FINGERPRINT = {fingerprint(number): codes for number, codes in DECLINES.items()}


def _top(key: str) -> str:
    return key.split("[", 1)[0]


def _rename(pairs: list[tuple[str, str]], old: str, new: str) -> list[tuple[str, str]]:
    return [(new + key[len(old) :] if _top(key) == old else key, value) for key, value in pairs]


def _split(
    pairs: list[tuple[str, str]], allowed: frozenset[str]
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    kept = [(key, value) for key, value in pairs if _top(key) in allowed]
    extra = {key: value for key, value in pairs if _top(key) not in allowed and key in ECHOED}
    return kept, extra


def _value(pairs: list[tuple[str, str]], name: str) -> str | None:
    for key, value in pairs:
        if key == name:
            return value
    return None


def _without(pairs: list[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    return [(key, value) for key, value in pairs if _top(key) not in names]


def _is_true(value: str | None) -> bool:
    return value is not None and value.lower() not in ("false", "")


@dataclass
class Answer:
    """One HTTP response."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any) -> Answer:
        """A JSON response."""
        return cls(status, json.dumps(payload).encode("utf-8"), {"Content-Type": JSON})

    @classmethod
    def error(cls, status: int, error_type: str, message: str, **extra: Any) -> Answer:
        """A Stripe error response."""
        return cls.json(status, {"error": {"type": error_type, "message": message, **extra}})

    def payload(self) -> Any:
        """The body as JSON (None when it is not)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class _Saved:
    signature: str
    answer: Answer | None = None  # None while the first request runs


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class StripeShim:
    """The WSGI proxy: Stripe's behaviour on top of localstripe at ``backend``."""

    def __init__(self, backend: str, secret_key: str = "sk_test_abo_shim") -> None:  # noqa: S107
        self.backend = backend.rstrip("/")
        # What the shim authenticates with for Stripe.js requests (localstripe takes no publishable key).
        self._secret_auth = f"Bearer {secret_key}"
        self._http = requests.Session()
        self._lock = threading.Lock()
        self._saved: dict[tuple[str, str], _Saved] = {}
        # PaymentIntent id → fields localstripe does not keep (echoed parameters, last_payment_error).
        self._overlays: dict[str, dict[str, Any]] = {}
        self.requests_seen: list[tuple[str, str]] = []

    # -- WSGI --------------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"])
        path = str(environ.get("PATH_INFO") or "/")
        query = str(environ.get("QUERY_STRING") or "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        auth = str(environ.get("HTTP_AUTHORIZATION") or "")
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        self.requests_seen.append((method, path))
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        if method == "POST" and key:
            answer = self._idempotent(auth, str(key), method, path, pairs, query)
        else:
            answer = self._handle(auth, method, path, pairs, query)
        headers = [("Content-Length", str(len(answer.body))), *answer.headers.items()]
        start_response(f"{answer.status} {_reason(answer.status)}", headers)
        return [answer.body]

    def _idempotent(
        self, auth: str, key: str, method: str, path: str, pairs: list[tuple[str, str]], query: str
    ) -> Answer:
        signature = json.dumps([method, path, sorted(pairs)])
        scope = (auth, key)
        with self._lock:
            saved = self._saved.get(scope)
            if saved is not None:
                if saved.signature != signature:
                    return Answer.error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were "
                        f"first used with. Try using a key other than '{key}' if you meant to execute a "
                        "different request.",
                    )
                if saved.answer is None:
                    return Answer.error(
                        409,
                        "idempotency_error",
                        "There is currently another in-progress request using this Idempotent Key.",
                    )
                replay = saved.answer
                return Answer(replay.status, replay.body, {**replay.headers, "Idempotent-Replayed": "true"})
            self._saved[scope] = _Saved(signature)
        answer = self._handle(auth, method, path, pairs, query)
        with self._lock:
            if 200 <= answer.status < 300 or answer.status == 402:
                self._saved[scope].answer = answer
            else:
                del self._saved[scope]
        return answer

    # -- talking to localstripe ---------------------------------------------------------------------

    def _forward(
        self, auth: str, method: str, path: str, pairs: list[tuple[str, str]] | None = None, query: str = ""
    ) -> Answer:
        url = self.backend + path + (f"?{query}" if query else "")
        data = urlencode(pairs or [])
        response = self._http.request(
            method,
            url,
            data=data if method == "POST" else None,
            headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        )
        headers = {"Content-Type": response.headers.get("Content-Type", JSON)}
        answer = Answer(response.status_code, response.content, headers)
        payload = answer.payload()
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("error"), dict)
            and response.status_code >= 500
        ):
            # localstripe says 500 for what it does not implement: Stripe would refuse the request.
            return Answer.json(400, payload)
        return answer

    def _get(self, auth: str, path: str, query: str = "") -> dict[str, Any]:
        payload = self._forward(auth, "GET", path, query=query).payload()
        return payload if isinstance(payload, dict) else {}

    def _resolve_method(self, auth: str, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Turn a documented test id (``pm_card_visa``) into a payment method of its own, as Stripe does."""
        method = _value(pairs, "payment_method")
        if method is None or method not in TEST_PAYMENT_METHODS:
            return pairs
        resolved = self._get(auth, f"/v1/payment_methods/{method}")
        return [(k, str(resolved.get("id", v)) if k == "payment_method" else v) for k, v in pairs]

    # -- routing -----------------------------------------------------------------------------------

    def _browser(self, auth: str, path: str, pairs: list[tuple[str, str]]) -> str | None:
        """Stripe.js: a publishable key and the intent's client secret stand for the secret key.
        Returns the authorisation to forward with, None when the client secret does not fit."""
        key = _value(pairs, "key") or ""
        if not (auth.startswith("Bearer pk_") or key.startswith("pk_")):
            return auth
        match = re.fullmatch(r"/v1/payment_intents/(\w+)/(confirm|_authenticate)", path)
        secret = _value(pairs, "client_secret")
        if match is None or not secret:
            return None
        intent = self._get(self._secret_auth, f"/v1/payment_intents/{match.group(1)}")
        return self._secret_auth if intent.get("client_secret") == secret else None

    def _handle(self, auth: str, method: str, path: str, pairs: list[tuple[str, str]], query: str) -> Answer:
        if method == "POST" and path.startswith("/v1/payment_intents/"):
            browser = self._browser(auth, path, pairs)
            if browser is None:
                return Answer.error(401, "invalid_request_error", "Invalid API key or client secret")
            auth, pairs = browser, _without(pairs, "key")
            if path.endswith("/confirm"):
                pairs = _without(pairs, "client_secret")  # localstripe wants it only without a key
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_payment_intent(auth, pairs)
        if method == "POST" and (match := re.fullmatch(r"/v1/payment_intents/(\w+)/confirm", path)):
            return self._confirm_payment_intent(auth, match.group(1), pairs)
        if method == "POST" and (match := re.fullmatch(r"/v1/payment_intents/(\w+)/_authenticate", path)):
            # 3-D Secure completed on the page: a succeeded intent saves its card, as after a confirm.
            answer = self._forward(auth, method, path, pairs, query)
            return self._after_confirm(auth, match.group(1), answer, off_session=False)
        if method == "GET" and path == "/v1/payment_intents":
            return self._list_payment_intents(auth, query)
        if method == "POST" and path == "/v1/setup_intents":
            pairs = _rename(pairs, "allowed_payment_method_types", "payment_method_types")
            return self._forward(auth, method, path, _split(pairs, SETUP_INTENT_PARAMS)[0])
        if method == "POST" and (match := re.fullmatch(r"/v1/setup_intents/(\w+)/confirm", path)):
            return self._confirm_setup_intent(auth, match.group(1), pairs)
        if method == "GET" and (match := re.fullmatch(r"/v1/customers/(\w+)/payment_methods", path)):
            params = dict(parse_qsl(query))
            listed = {"customer": match.group(1), "type": params.get("type", "card")}
            listed.update({k: v for k, v in params.items() if k in ("limit", "starting_after")})
            return self._forward(auth, "GET", "/v1/payment_methods", query=urlencode(listed))
        answer = self._forward(auth, method, path, pairs, query)
        return self._overlaid(answer)

    def _overlay(self, intent: dict[str, Any]) -> dict[str, Any]:
        extra = self._overlays.get(str(intent.get("id")))
        if not extra:
            return intent
        merged = {**intent, **{k: v for k, v in extra.items() if k != "last_payment_error"}}
        if "last_payment_error" in extra and intent.get("status") == "requires_payment_method":
            merged["last_payment_error"] = extra["last_payment_error"]
        return merged

    def _overlaid(self, answer: Answer) -> Answer:
        payload = answer.payload()
        if not isinstance(payload, dict):
            return answer
        if payload.get("object") == "payment_intent":
            return Answer.json(answer.status, self._overlay(payload))
        if payload.get("object") == "list" and isinstance(payload.get("data"), list):
            payload["data"] = [
                self._overlay(item)
                if isinstance(item, dict) and item.get("object") == "payment_intent"
                else item
                for item in payload["data"]
            ]
            return Answer.json(answer.status, payload)
        return answer

    def _create_payment_intent(self, auth: str, pairs: list[tuple[str, str]]) -> Answer:
        pairs = _rename(pairs, "allowed_payment_method_types", "payment_method_types")
        kept, extra = _split(self._resolve_method(auth, pairs), PAYMENT_INTENT_PARAMS)
        off_session = _is_true(_value(kept, "off_session"))
        answer = self._forward(auth, "POST", "/v1/payment_intents", kept)
        payload = answer.payload()
        intent_id: str | None = None
        if isinstance(payload, dict) and payload.get("object") == "payment_intent":
            intent_id = str(payload["id"])
        elif answer.status == 402 and isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            # A decline on create names the charge only; the charge names its PaymentIntent.
            charge = payload["error"].get("charge")
            intent_id = self._get(auth, f"/v1/charges/{charge}").get("payment_intent") if charge else None
        if intent_id is None:
            return answer
        if extra:
            self._overlays.setdefault(intent_id, {}).update(extra)
        return self._after_confirm(auth, intent_id, answer, off_session)

    def _confirm_payment_intent(self, auth: str, intent_id: str, pairs: list[tuple[str, str]]) -> Answer:
        pairs = self._resolve_method(auth, pairs)
        off_session = _is_true(_value(pairs, "off_session"))
        method = _value(pairs, "payment_method")
        if method is not None:
            updated = self._forward(
                auth, "POST", f"/v1/payment_intents/{intent_id}", [("payment_method", method)]
            )
            if updated.status >= 300:
                return updated
        kept = [(k, v) for k, v in pairs if _top(k) in CONFIRM_PARAMS]
        answer = self._forward(auth, "POST", f"/v1/payment_intents/{intent_id}/confirm", kept)
        return self._after_confirm(auth, intent_id, answer, off_session)

    def _after_confirm(self, auth: str, intent_id: str, answer: Answer, off_session: bool) -> Answer:
        payload = answer.payload()
        if answer.status == 402 and isinstance(payload, dict):
            return self._card_error(auth, intent_id, payload.get("error") or {})
        if not isinstance(payload, dict) or answer.status >= 300:
            return answer
        if payload.get("status") == "requires_action" and off_session:
            return self._authentication_required(auth, intent_id, payload)
        if payload.get("status") == "succeeded":
            self._save_card(auth, intent_id, payload)
        return Answer.json(answer.status, self._overlay(payload))

    def _save_card(self, auth: str, intent_id: str, intent: dict[str, Any]) -> None:
        usage = self._overlays.get(intent_id, {}).get("setup_future_usage")
        customer, method = intent.get("customer"), intent.get("payment_method")
        if usage and customer and method:
            self._forward(auth, "POST", f"/v1/payment_methods/{method}/attach", [("customer", str(customer))])

    def _authentication_required(self, auth: str, intent_id: str, intent: dict[str, Any]) -> Answer:
        method = self._get(auth, f"/v1/payment_methods/{intent.get('payment_method')}")
        # localstripe's failed authentication leaves the intent as Stripe does: requires_payment_method.
        self._forward(
            auth,
            "POST",
            f"/v1/payment_intents/{intent_id}/_authenticate",
            [("client_secret", str(intent.get("client_secret"))), ("success", "false")],
        )
        error = {**AUTHENTICATION_REQUIRED, "payment_method": method}
        self._overlays.setdefault(intent_id, {})["last_payment_error"] = error
        failed = self._overlay(self._get(auth, f"/v1/payment_intents/{intent_id}"))
        return Answer.json(402, {"error": {**error, "payment_intent": failed}})

    def _card_error(self, auth: str, intent_id: str, error: dict[str, Any]) -> Answer:
        intent = self._get(auth, f"/v1/payment_intents/{intent_id}")
        method = self._get(auth, f"/v1/payment_methods/{intent.get('payment_method')}")
        raw_card = method.get("card")
        card: dict[str, Any] = raw_card if isinstance(raw_card, dict) else {}
        code, decline = DECLINES_BY_FINGERPRINT.get(
            str(card.get("fingerprint")), ("card_declined", "generic_decline")
        )
        detail = {
            "type": "card_error",
            "code": code,
            "decline_code": decline,
            "message": str(error.get("message") or "Your card was declined."),
            "charge": error.get("charge"),
            "payment_method": method,
        }
        self._overlays.setdefault(intent_id, {})["last_payment_error"] = detail
        return Answer.json(402, {"error": {**detail, "payment_intent": self._overlay(intent)}})

    def _confirm_setup_intent(self, auth: str, intent_id: str, pairs: list[tuple[str, str]]) -> Answer:
        pairs = self._resolve_method(auth, pairs)
        answer = self._forward(
            auth, "POST", f"/v1/setup_intents/{intent_id}/confirm", _without(pairs, "return_url")
        )
        payload = answer.payload()
        if answer.status < 300 and isinstance(payload, dict) and payload.get("status") == "succeeded":
            customer, method = payload.get("customer"), payload.get("payment_method")
            if customer and method:
                self._forward(
                    auth, "POST", f"/v1/payment_methods/{method}/attach", [("customer", str(customer))]
                )
        return answer

    def _list_payment_intents(self, auth: str, query: str) -> Answer:
        params = dict(parse_qsl(query))
        customer = params.pop("customer", None)
        if customer is None:
            return self._overlaid(self._forward(auth, "GET", "/v1/payment_intents", query=query))
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page_query = {"limit": "100", **({"starting_after": after} if after else {})}
            page = self._get(auth, "/v1/payment_intents", urlencode(page_query))
            data = [item for item in page.get("data") or [] if isinstance(item, dict)]
            found.extend(self._overlay(item) for item in data if item.get("customer") == customer)
            if not page.get("has_more") or not data:
                break
            after = str(data[-1]["id"])
        found.sort(key=lambda item: int(item.get("created") or 0), reverse=True)
        url = "/v1/payment_intents"
        return Answer.json(200, {"object": "list", "url": url, "has_more": False, "data": found})


def _reason(status: int) -> str:
    return {200: "OK", 400: "Bad Request", 402: "Payment Required", 404: "Not Found", 409: "Conflict"}.get(
        status, "Status"
    )


class StripeSimulator:
    """localstripe in a subprocess behind the shim; ``start`` returns the shim's base URL."""

    def __init__(self, secret_key: str = "sk_test_abo_simulator") -> None:  # noqa: S107 - a test key
        self.secret_key = secret_key
        self._process: subprocess.Popen[bytes] | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.shim: StripeShim | None = None
        self.base_url = ""

    def start(self, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 30.0) -> str:
        """Start localstripe on a private port and the shim on ``host:port`` (0: any free port)."""
        # The child serves on a socket bound here and inherited: a port probed free and bound later by
        # the child could be taken in between, and the probe would then talk to a stranger.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((host, 0))
            listener.listen(128)
            backend_port = int(listener.getsockname()[1])
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            }
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "infra.simulators.stripe",
                    "--backend",
                    "--host",
                    host,
                    "--socket-fd",
                    str(listener.fileno()),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(listener.fileno(),),
            )
        finally:
            listener.close()  # the child holds its own copy
        backend = f"http://{host}:{backend_port}"
        self._wait(backend, startup_timeout)
        self.shim = StripeShim(backend, self.secret_key)
        self._server = make_server(host, port, self.shim, server_class=_Server, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-shim", daemon=True)
        self._thread.start()
        self.base_url = f"http://{host}:{self._server.server_port}"
        return self.base_url

    def _wait(self, backend: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {self._process.returncode}")
            try:
                # The socket listens from the start, so a connection succeeds at once; the answer comes
                # when localstripe has imported and serves, which takes seconds on a loaded machine.
                requests.get(
                    f"{backend}/v1/balance",
                    headers={"Authorization": f"Bearer {self.secret_key}"},
                    timeout=(1, max(1.0, deadline - time.monotonic())),
                )
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"localstripe did not start within {timeout} s")

    def register_webhook(
        self, url: str, secret: str, events: list[str] | None = None, name: str = "abo"
    ) -> None:
        """Have localstripe post every event (or ``events``) to ``url``, signed with ``secret``."""
        if self.shim is None:
            raise RuntimeError("the simulator is not running")
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        response = requests.post(f"{self.shim.backend}/_config/webhooks/{name}", json=body, timeout=5)
        response.raise_for_status()

    def stop(self) -> None:
        """Stop the shim and localstripe."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None

    def __enter__(self) -> StripeSimulator:
        if not self.base_url:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the localstripe process --------------------------------------------------------------------------


def _patch_localstripe() -> Any:
    """localstripe with Stripe's test cards and no pickling; returns its aiohttp application."""
    resources = importlib.import_module("localstripe.resources")
    server = importlib.import_module("localstripe.server")
    # Each process keeps its own state; nothing is shared through /tmp/localstripe.pickle.
    resources.store.dump_to_disk = lambda: None
    resources.store.try_load_from_disk = lambda: None
    payment_method = resources.PaymentMethod
    known = payment_method._try_get_canonical_test_article.__func__

    def canonical(cls: Any, id: str) -> Any:
        found = known(cls, id)
        if found is None and id in TEST_PAYMENT_METHODS:
            card = {"number": TEST_PAYMENT_METHODS[id], "exp_month": "12", "exp_year": "2034", "cvc": "123"}
            return payment_method(type="card", card=card)
        return found

    declined_when_charged = payment_method._charging_is_declined

    def charging_is_declined(self: Any) -> bool:
        if self.type == "card" and self._card_number in DECLINES:
            return True
        return bool(declined_when_charged(self))

    payment_method._try_get_canonical_test_article = classmethod(canonical)
    payment_method._charging_is_declined = charging_is_declined
    return server.app


def _exit_with_parent() -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def run_backend(host: str, port: int, socket_fd: int | None = None) -> None:
    """Serve localstripe (patched) on ``host:port``, or on the inherited listening socket ``socket_fd``,
    until killed or until its parent process ends."""
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()
    web = importlib.import_module("aiohttp.web")
    if socket_fd is not None:
        listener = socket.socket(fileno=socket_fd)
        web.run_app(_patch_localstripe(), sock=listener, print=None, access_log=None)
    else:
        web.run_app(_patch_localstripe(), host=host, port=port, print=None, access_log=None)


def main(argv: list[str] | None = None) -> None:
    """``python -m infra.simulators.stripe``: the shim and localstripe, until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--backend", action="store_true", help="serve localstripe itself (internal)")
    parser.add_argument("--socket-fd", type=int, help="serve on this inherited listening socket (internal)")
    args = parser.parse_args(argv)
    if args.backend:
        run_backend(args.host, args.port, args.socket_fd)
        return
    simulator = StripeSimulator()
    print(f"Stripe (localstripe + shim) {simulator.start(args.host, args.port)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
