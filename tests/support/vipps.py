"""The Vipps simulator, our client pointed at it, a webhook receiver, and the checker that validates every
request and response against the published specs in ../shared/specs/vipps (it lives in
``infra/simulators/vipps_spec.py`` so that the simulator can validate what it serves too; see there for
the four spec defects it tolerates).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.settings import VippsSettings
from infra.simulators.vipps_spec import (
    SPEC_DIR,
    SPEC_FILES,
    SPEC_HOST,
    Exchange,
    SpecChecker,
    load_spec,
)

__all__ = ["SPEC_DIR", "SPEC_FILES", "SPEC_HOST", "Exchange", "SpecChecker", "load_spec"]

CLIENT_ID = "6a4e2f8c-0d3b-4b9e-9a51-2f0c1d7e8b90"
CLIENT_SECRET = "simulated-client-secret"
SUBSCRIPTION_KEY = "simulated-subscription-key"
MSN = "123456"
WEBHOOK_SECRET = "simulated-webhook-secret"


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
