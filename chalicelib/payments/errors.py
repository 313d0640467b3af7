"""Errors a payment provider's adapter raises: typed, carrying the provider's problem title and detail."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import AboError, UnauthenticatedError


@dataclass
class ProviderError(AboError):
    """A payment provider answered with an error, or not at all."""

    provider: str = ""
    http_status: int | None = None
    problem_type: str | None = None
    problem_title: str | None = None
    problem_detail: str | None = None
    context_id: str | None = None

    slug = "payment-provider-error"
    status = 502
    title = "The payment provider failed"


@dataclass
class ProviderRejectedError(ProviderError):
    """The provider refused the request (a 4xx): retrying the same request will not help."""

    slug = "payment-provider-rejected"
    status = 422
    title = "The payment provider rejected the request"


@dataclass
class ProviderUnavailableError(ProviderError):
    """The provider is down, overloaded (5xx, 429) or timed out after the bounded retries; retry later."""

    retry_after_seconds: float | None = None

    slug = "payment-provider-unavailable"
    status = 503
    title = "The payment provider is unavailable"


class WebhookSignatureError(UnauthenticatedError):
    """A webhook's signature, content hash or signed headers do not match."""

    slug = "invalid-webhook-signature"
    title = "The webhook signature is not valid"
