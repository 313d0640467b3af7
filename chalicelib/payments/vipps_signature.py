"""Vipps MobilePay webhook signatures (HMAC-SHA256 over date, host and content hash): pure functions.

The scheme, from the provider's notes::

    content_hash   = base64(sha256(raw_body))            # equals x-ms-content-sha256
    string_to_sign = "POST\\n" + path_and_query + "\\n" + x_ms_date + ";" + host + ";" + content_hash
    Authorization  = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + base64(hmac)

``host`` and ``path_and_query`` are those of the registered URL, not of the request as it arrives behind
API Gateway, so callers pass them in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit

from chalicelib.payments.errors import WebhookSignatureError

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
_SCHEME = "HMAC-SHA256"


def content_hash(body: bytes) -> str:
    """base64 of the SHA-256 of the raw body."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def string_to_sign(path_and_query: str, date: str, host: str, body_hash: str) -> str:
    """What the HMAC covers."""
    return f"POST\n{path_and_query}\n{date};{host};{body_hash}"


def signature(secret: str, path_and_query: str, date: str, host: str, body_hash: str) -> str:
    """base64 of HMAC-SHA256 over :func:`string_to_sign`, keyed with the secret's UTF-8 bytes."""
    message = string_to_sign(path_and_query, date, host, body_hash).encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def host_and_path(url: str) -> tuple[str, str]:
    """The host (with a non-default port) and the path with query of a registered webhook URL."""
    parts = urlsplit(url)
    path = parts.path or "/"
    return parts.netloc, f"{path}?{parts.query}" if parts.query else path


def sign_webhook(secret: str, url: str, body: bytes, date: str) -> dict[str, str]:
    """The headers Vipps sends with a webhook to ``url`` (used by the simulator and tests)."""
    host, path_and_query = host_and_path(url)
    body_hash = content_hash(body)
    mac = signature(secret, path_and_query, date, host, body_hash)
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": body_hash,
        "Authorization": f"{_SCHEME} SignedHeaders={SIGNED_HEADERS}&Signature={mac}",
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookSignatureError(f"the webhook has no {name} header")


def _parse_authorization(value: str) -> tuple[str, str]:
    scheme, _, params = value.strip().partition(" ")
    if scheme != _SCHEME:
        raise WebhookSignatureError(f"the Authorization scheme is {scheme!r}, not {_SCHEME}")
    fields: dict[str, str] = {}
    for part in params.strip().split("&"):
        key, sep, val = part.partition("=")
        if sep:
            fields[key] = val
    if "SignedHeaders" not in fields or "Signature" not in fields:
        raise WebhookSignatureError("the Authorization header lacks SignedHeaders or Signature")
    return fields["SignedHeaders"], fields["Signature"]


def verify_webhook(secret: str, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Raise :class:`WebhookSignatureError` unless ``headers`` sign ``body`` for the registered ``url``."""
    if not secret:
        raise WebhookSignatureError("no webhook secret is configured")
    signed_headers, given = _parse_authorization(_header(headers, "authorization"))
    if signed_headers.lower() != SIGNED_HEADERS:
        raise WebhookSignatureError(f"the signed headers are {signed_headers!r}, not {SIGNED_HEADERS!r}")
    body_hash = content_hash(body)
    if not hmac.compare_digest(_header(headers, "x-ms-content-sha256"), body_hash):
        raise WebhookSignatureError("x-ms-content-sha256 does not match the body")
    host, path_and_query = host_and_path(url)
    expected = signature(secret, path_and_query, _header(headers, "x-ms-date"), host, body_hash)
    if not hmac.compare_digest(given, expected):
        raise WebhookSignatureError("the signature does not match")
