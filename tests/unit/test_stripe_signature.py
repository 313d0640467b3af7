"""Stripe-Signature verification: the HMAC, several v1 values, the tolerance against an injected clock."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from chalicelib.payments.errors import WebhookSignatureError
from chalicelib.payments.stripe_api import parse_webhook
from chalicelib.payments.stripe_signature import (
    compute_signature,
    parse_header,
    sign_payload,
    verify_signature,
)
from chalicelib.settings import StripeSettings

SECRET = "whsec_test_abo"
NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": T,
        "data": {"object": {"id": "pi_1", "object": "payment_intent"}},
    }
).encode()


def test_the_signature_is_hex_hmac_sha256_of_timestamp_dot_payload() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute_signature(SECRET, T, BODY) == expected
    assert sign_payload(SECRET, T, BODY) == f"t={T},v1={expected}"
    # A known value, so that the scheme cannot drift with the implementation.
    assert compute_signature("secret", 1, b"{}") == hmac.new(b"secret", b"1.{}", hashlib.sha256).hexdigest()


def test_a_valid_header_verifies_and_returns_its_timestamp() -> None:
    assert verify_signature(SECRET, BODY, sign_payload(SECRET, T, BODY), NOW) == T


def test_any_of_several_v1_signatures_may_match_and_other_schemes_are_ignored() -> None:
    good = compute_signature(SECRET, T, BODY)
    header = f"t={T},v1={'0' * 64},v0=abc,v1={good}"
    assert parse_header(header).signatures == ("0" * 64, good)
    assert verify_signature(SECRET, BODY, header, NOW) == T


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("", "no timestamp"),
        (f"v1={'a' * 64}", "no timestamp"),
        (f"t={T}", "no v1 signature"),
        (f"t=soon,v1={'a' * 64}", "not a number"),
    ],
)
def test_malformed_headers_are_refused(header: str, message: str) -> None:
    with pytest.raises(WebhookSignatureError, match=message):
        verify_signature(SECRET, BODY, header, NOW)


def test_a_changed_body_or_another_secret_does_not_verify() -> None:
    header = sign_payload(SECRET, T, BODY)
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        verify_signature(SECRET, BODY + b" ", header, NOW)
    with pytest.raises(WebhookSignatureError, match="no signature matches"):
        verify_signature("whsec_other", BODY, header, NOW)


def test_the_tolerance_is_measured_against_the_given_clock() -> None:
    header = sign_payload(SECRET, T, BODY)
    assert verify_signature(SECRET, BODY, header, NOW + timedelta(seconds=300)) == T
    with pytest.raises(WebhookSignatureError, match="beyond the tolerance of 300 s"):
        verify_signature(SECRET, BODY, header, NOW + timedelta(seconds=301))
    with pytest.raises(WebhookSignatureError, match="beyond the tolerance of 60 s"):
        verify_signature(SECRET, BODY, header, NOW - timedelta(seconds=61), tolerance_seconds=60)


def test_no_secret_configured_refuses_everything() -> None:
    with pytest.raises(WebhookSignatureError, match="no Stripe webhook secret"):
        verify_signature("", BODY, sign_payload("", T, BODY), NOW)


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_signature(SECRET, BODY, sign_payload(SECRET, T, BODY), NOW.replace(tzinfo=None))


def test_parse_webhook_verifies_then_names_the_event_and_its_object() -> None:
    settings = StripeSettings(webhook_secret=SecretStr(SECRET))
    event = parse_webhook(settings, BODY, {"stripe-signature": sign_payload(SECRET, T, BODY)}, NOW)
    assert (event.event_id, event.event_type, event.object_type, event.object_id, event.created) == (
        "evt_1",
        "payment_intent.succeeded",
        "payment_intent",
        "pi_1",
        T,
    )
    with pytest.raises(WebhookSignatureError, match="no Stripe-Signature header"):
        parse_webhook(settings, BODY, {}, NOW)
