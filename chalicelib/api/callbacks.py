"""Provider callbacks (public: no admin token; the provider's signature is checked instead).

A callback verifies, records the event once by its id and queues it, then answers 200 at once; a bad
signature is a 401 problem and nothing is recorded. The work happens in ``functions/payment_events.py``.
"""

from __future__ import annotations

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import ResponseModel

router = Router("callbacks", tag="callbacks")


class CallbackReceipt(ResponseModel):
    """What we did with a delivery."""

    event_id: str
    duplicate: bool


def _raw(call: Call) -> bytes:
    raw = call.request.raw_body or b""
    return raw.encode() if isinstance(raw, str) else raw


def _headers(call: Call) -> dict[str, str]:
    return {str(key).lower(): str(value) for key, value in call.request.headers.items()}


@router.route(
    "POST",
    "/v1/callbacks/vipps",
    summary="Vipps MobilePay webhook (signed HMAC-SHA256)",
    auth="public",
    response=CallbackReceipt,
    problems=(401, 422),
)
def vipps_callback(call: Call) -> CallbackReceipt:
    """Verify, record and queue a Vipps Recurring event."""
    received = call.services.webhooks.vipps(_raw(call), _headers(call))
    return CallbackReceipt(event_id=received.event_id, duplicate=received.duplicate)


@router.route(
    "POST",
    "/v1/callbacks/stripe",
    summary="Stripe webhook (Stripe-Signature)",
    auth="public",
    response=CallbackReceipt,
    problems=(401, 422),
)
def stripe_callback(call: Call) -> CallbackReceipt:
    """Verify, record and queue a Stripe event."""
    received = call.services.webhooks.stripe(_raw(call), _headers(call))
    return CallbackReceipt(event_id=received.event_id, duplicate=received.duplicate)
