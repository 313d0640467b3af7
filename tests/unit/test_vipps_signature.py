"""Vipps webhook signatures, checked against the test vector published with the provider's notes."""

from __future__ import annotations

import pytest

from chalicelib.payments.errors import WebhookSignatureError
from chalicelib.payments.vipps_signature import (
    content_hash,
    host_and_path,
    sign_webhook,
    signature,
    verify_webhook,
)

# The published test vector (../shared/specs/vipps/NOTES.md).
SECRET = "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A=="
BODY = b'{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}'
DATE = "Thu, 30 Mar 2023 08:38:32 GMT"
URL = "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63"
HASH = "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4="
SIGNATURE = "agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U="
HEADERS = {
    "x-ms-date": DATE,
    "x-ms-content-sha256": HASH,
    "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={SIGNATURE}",
}


def test_the_published_vector_gives_the_published_hash_and_signature() -> None:
    assert content_hash(BODY) == HASH
    assert signature(SECRET, "/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63", DATE, "webhook.site", HASH) == SIGNATURE
    assert sign_webhook(SECRET, URL, BODY, DATE) == HEADERS


def test_the_published_webhook_verifies_whatever_the_header_case() -> None:
    verify_webhook(SECRET, URL, BODY, HEADERS)
    verify_webhook(SECRET, URL, BODY, {k.upper(): v for k, v in HEADERS.items()})


@pytest.mark.parametrize(
    ("secret", "url", "body", "headers", "reason"),
    [
        (SECRET, URL, BODY + b" ", HEADERS, "does not match the body"),
        ("another secret", URL, BODY, HEADERS, "signature does not match"),
        (
            SECRET,
            "https://other.host/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63",
            BODY,
            HEADERS,
            "signature does not",
        ),
        (SECRET, URL + "?x=1", BODY, HEADERS, "signature does not match"),
        (SECRET, URL, BODY, {**HEADERS, "x-ms-date": "Thu, 30 Mar 2023 08:38:33 GMT"}, "signature does not"),
        (SECRET, URL, BODY, {k: v for k, v in HEADERS.items() if k != "x-ms-date"}, "no x-ms-date header"),
        (SECRET, URL, BODY, {**HEADERS, "Authorization": "Bearer abc"}, "not HMAC-SHA256"),
        (SECRET, URL, BODY, {**HEADERS, "Authorization": "HMAC-SHA256 Signature=abc"}, "lacks SignedHeaders"),
        (
            SECRET,
            URL,
            BODY,
            {**HEADERS, "Authorization": f"HMAC-SHA256 SignedHeaders=host&Signature={SIGNATURE}"},
            "signed headers are 'host'",
        ),
        ("", URL, BODY, HEADERS, "no webhook secret"),
    ],
)
def test_anything_altered_is_refused(
    secret: str, url: str, body: bytes, headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(WebhookSignatureError, match=reason) as refused:
        verify_webhook(secret, url, body, headers)
    assert refused.value.status == 401


def test_the_signed_host_keeps_a_port_and_the_path_keeps_its_query() -> None:
    assert host_and_path("http://127.0.0.1:8000/v1/callbacks/vipps?tenant=a") == (
        "127.0.0.1:8000",
        "/v1/callbacks/vipps?tenant=a",
    )
    assert host_and_path("https://abo.example") == ("abo.example", "/")
