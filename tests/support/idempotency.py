"""Idempotency-Key in tests: every POST a test sends through Chalice's in-process client gets a fresh key
unless it names one, the way a well-behaved client does, so that tests about something else need not
think of it. A test about the key itself sends its own (a replay) or none (``without_idempotency_keys``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from chalice.test import TestHTTPClient

HEADER = "Idempotency-Key"
NO_KEY = ""
"""Pass as ``key`` to the test helpers' ``post`` to send no Idempotency-Key at all."""
_automatic = ContextVar("automatic_idempotency_keys", default=True)
_plain_request = TestHTTPClient.request


def fresh_key() -> str:
    """A new Idempotency-Key."""
    return str(uuid.uuid4())


def with_key(headers: Mapping[str, str] | None, key: str | None = None) -> dict[str, str]:
    """``headers`` plus an Idempotency-Key (``key``, or a fresh one) unless they name one already."""
    sent = dict(headers or {})
    if not any(name.lower() == HEADER.lower() for name in sent):
        sent[HEADER] = key if key is not None else fresh_key()
    return sent


@contextmanager
def without_idempotency_keys() -> Iterator[None]:
    """POSTs inside go out without an automatic key (to see the 428)."""
    reset = _automatic.set(False)
    try:
        yield
    finally:
        _automatic.reset(reset)


def _request_with_key(
    self: TestHTTPClient, method: str, path: str, headers: dict[str, str] | None = None, body: Any = b""
) -> Any:
    if method.upper() == "POST" and _automatic.get():
        headers = with_key(headers)
    return _plain_request(self, method, path, headers=headers, body=body)


@contextmanager
def automatic_idempotency_keys() -> Iterator[None]:
    """Give every POST through Chalice's test client a fresh key unless it names one."""
    TestHTTPClient.request = _request_with_key  # type: ignore[method-assign]
    try:
        yield
    finally:
        TestHTTPClient.request = _plain_request  # type: ignore[method-assign]
