"""Stripe webhook signatures (``Stripe-Signature: t=<unix time>,v1=<hex>``): pure functions.

The scheme, from Stripe's documentation::

    signed_payload = f"{t}.{raw_body}"
    v1             = hex(hmac_sha256(webhook_secret, signed_payload))

A header may carry several ``v1`` values (while a secret is being rolled) and values of other schemes
(``v0``), which are ignored. A signature older or newer than the tolerance is refused, so that a captured
request cannot be replayed later; the time comes from the caller's clock, not from the machine's.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from chalicelib.payments.errors import WebhookSignatureError

HEADER = "Stripe-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class ParsedSignature:
    """The timestamp and every ``v1`` signature of one header."""

    timestamp: int
    signatures: tuple[str, ...]


def compute_signature(secret: str, timestamp: int, payload: bytes) -> str:
    """Lower-case hex HMAC-SHA256 of ``{timestamp}.{payload}`` keyed with the secret's UTF-8 bytes."""
    message = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign_payload(secret: str, timestamp: int, payload: bytes) -> str:
    """The ``Stripe-Signature`` value Stripe would send (used by the simulator and tests)."""
    return f"t={timestamp},{SCHEME}={compute_signature(secret, timestamp, payload)}"


def parse_header(value: str) -> ParsedSignature:
    """Split a header into its timestamp and ``v1`` signatures; anything malformed is refused."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not val.isdigit():
                raise WebhookSignatureError(f"the {HEADER} timestamp {val!r} is not a number")
            timestamp = int(val)
        elif key == SCHEME and val:
            signatures.append(val)
    if timestamp is None:
        raise WebhookSignatureError(f"the {HEADER} header has no timestamp")
    if not signatures:
        raise WebhookSignatureError(f"the {HEADER} header has no {SCHEME} signature")
    return ParsedSignature(timestamp, tuple(signatures))


def header_value(headers: dict[str, str] | None, name: str = HEADER) -> str:
    """A header by name, whatever its case; refused when absent."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    raise WebhookSignatureError(f"the webhook has no {name} header")


def verify_signature(
    secret: str,
    payload: bytes,
    header: str,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Raise :class:`WebhookSignatureError` unless ``header`` signs ``payload`` within the tolerance.

    Returns the signed timestamp. ``now`` must be timezone-aware (the platform clock's instant).
    """
    if not secret:
        raise WebhookSignatureError("no Stripe webhook secret is configured")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    parsed = parse_header(header)
    expected = compute_signature(secret, parsed.timestamp, payload)
    if not any(hmac.compare_digest(expected, given) for given in parsed.signatures):
        raise WebhookSignatureError("no signature matches the payload")
    age = now.timestamp() - parsed.timestamp
    if abs(age) > tolerance_seconds:
        raise WebhookSignatureError(
            f"the signature is {int(age)} s away from now, beyond the tolerance of {tolerance_seconds} s"
        )
    return parsed.timestamp
