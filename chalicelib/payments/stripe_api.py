"""Stripe's API as the card adapter reads it: a client of its own, idempotency keys from our ids, the
SDK's errors as typed provider errors, a PaymentIntent's status in provider-neutral terms, saved cards,
and verified webhooks. No request is made here except through the client handed back by
:func:`new_client`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe

from chalicelib.errors import ValidationFailedError
from chalicelib.money import Currency, Money
from chalicelib.payments.errors import (
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from chalicelib.payments.interface import AgreementSetup, ChargeResult, ChargeStatus
from chalicelib.payments.stripe_signature import header_value, verify_signature
from chalicelib.settings import StripeSettings

PROVIDER = "stripe"
# Stripe allows 255 characters; our ids are far shorter, so keys are readable.
_IDEMPOTENCY_KEY_MAX = 255


def idempotency_key(action: str, our_id: str) -> str:
    """The deterministic ``Idempotency-Key`` for ``action`` on one of our ids."""
    key = f"{action}-{our_id}"
    if not our_id or len(key) > _IDEMPOTENCY_KEY_MAX:
        raise ValidationFailedError(f"{our_id!r} cannot make a Stripe idempotency key")
    return key


@dataclass(frozen=True)
class StripeAgreementSetup(AgreementSetup):
    """An agreement being set up: the intent the customer confirms on session, and its client secret.

    The client secret goes to the customer's browser only (Stripe.js), never into a URL or a log.
    """

    intent_id: str = ""
    client_secret: str = ""


@dataclass(frozen=True)
class StripeChargeResult(ChargeResult):
    """A charge (a PaymentIntent) with what dunning needs when it failed."""

    decline_code: str | None = None
    customer_action_url: str | None = None


@dataclass(frozen=True)
class SavedCard:
    """A saved card as the customer knows it (never its number): brand, last four digits, expiry."""

    payment_method_id: str
    brand: str | None
    last4: str
    exp_month: int
    exp_year: int


def saved_card_of(method: Mapping[str, Any]) -> SavedCard | None:
    """The card of a Stripe PaymentMethod; None for anything that is not a card with an expiry."""
    card = as_dict(method.get("card"))
    month, year, last4 = card.get("exp_month"), card.get("exp_year"), card.get("last4")
    if not method.get("id") or not isinstance(month, int) or not isinstance(year, int) or not last4:
        return None
    return SavedCard(
        payment_method_id=str(method["id"]),
        brand=str(card["brand"]) if card.get("brand") else None,
        last4=str(last4),
        exp_month=month,
        exp_year=year,
    )


def as_dict(value: Any) -> dict[str, Any]:
    """A Stripe object (or any mapping) as a plain dict; anything else as an empty one."""
    if isinstance(value, stripe.StripeObject):
        return value.to_dict()
    return dict(value) if isinstance(value, Mapping) else {}


def _money(value: Any, currency: Currency) -> Money | None:
    return Money(value, currency) if isinstance(value, int) and not isinstance(value, bool) else None


def currency_of(value: Any) -> Currency:
    """The currency of a Stripe amount (lower-case ISO code)."""
    try:
        return Currency(str(value).upper())
    except ValueError as exc:
        raise ProviderError(detail=f"Stripe reported unknown currency {value!r}", provider=PROVIDER) from exc


def error_body(exc: stripe.StripeError) -> dict[str, Any]:
    """The ``error`` object of a Stripe error response (empty when there is none)."""
    body = exc.json_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return {}


def provider_error(exc: stripe.StripeError, action: str) -> ProviderError:
    """A typed error for anything the SDK raised that is not a card's answer."""
    error = error_body(exc)
    message = str(error.get("message") or exc.user_message or exc.__class__.__name__)
    common: dict[str, Any] = {
        "detail": f"Stripe failed to {action}: {message}",
        "provider": PROVIDER,
        "http_status": exc.http_status,
        "problem_type": str(error["type"]) if error.get("type") else None,
        "problem_title": str(exc.code or error.get("code") or "") or None,
        "problem_detail": message,
        "context_id": exc.request_id,
    }
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return ProviderUnavailableError(**common)
    status = exc.http_status
    if status is not None and (status >= 500 or status == 429):
        return ProviderUnavailableError(**common)
    if status is not None and 400 <= status < 500:
        return ProviderRejectedError(**common)
    return ProviderError(**common)


def intent_status(intent: Mapping[str, Any]) -> tuple[ChargeStatus, Money | None, Money | None, Money | None]:
    """A PaymentIntent's status, amount, captured and refunded amounts in provider-neutral terms."""
    currency = currency_of(intent.get("currency"))
    provider_status = str(intent.get("status"))
    amount = _money(intent.get("amount"), currency)
    charge = as_dict(intent.get("latest_charge"))
    captured = _money(intent.get("amount_received"), currency)
    if captured is None and charge.get("status") == "succeeded" and charge.get("captured"):
        captured = _money(charge.get("amount"), currency)
    refunded_amount = charge.get("amount_refunded")
    refunded = _money(refunded_amount, currency) if refunded_amount else None
    if provider_status == "succeeded":
        if refunded is not None and captured is not None and refunded >= captured:
            status = ChargeStatus.REFUNDED
        elif refunded is not None:
            status = ChargeStatus.PARTIALLY_REFUNDED
        else:
            status = ChargeStatus.PAID
    elif provider_status == "requires_capture":
        status = ChargeStatus.RESERVED
    elif provider_status == "canceled":
        status = ChargeStatus.CANCELLED
    elif provider_status == "requires_payment_method" and intent.get("last_payment_error"):
        status = ChargeStatus.FAILED
    elif provider_status in (
        "requires_payment_method",
        "requires_confirmation",
        "requires_action",
        "processing",
    ):
        status = ChargeStatus.PENDING
    else:
        raise ProviderError(
            detail=f"Stripe reported unknown PaymentIntent status {provider_status!r}", provider=PROVIDER
        )
    return status, amount, captured, refunded


def charge_result(
    intent: Mapping[str, Any], action_url: Callable[[str], str], error: Mapping[str, Any] | None = None
) -> StripeChargeResult:
    """A PaymentIntent as a charge result: its status, amounts, the card's failure codes (``error``, the
    card error's body, else the intent's last payment error) and, when the customer must act, the page
    where they pay it on session (``action_url`` of the intent's id)."""
    status, amount, captured, refunded = intent_status(intent)
    failure = as_dict(error) if error is not None else as_dict(intent.get("last_payment_error"))
    code = failure.get("code")
    decline = failure.get("decline_code")
    needs_customer = status == ChargeStatus.FAILED or intent.get("status") == "requires_action"
    intent_id = str(intent["id"])
    return StripeChargeResult(
        charge_ref=intent_id,
        status=status,
        provider_status=str(intent.get("status")),
        amount=amount,
        captured=captured,
        refunded=refunded,
        failure_reason=str(code) if code and status == ChargeStatus.FAILED else None,
        decline_code=str(decline) if decline and status == ChargeStatus.FAILED else None,
        customer_action_url=action_url(intent_id) if needs_customer else None,
    )


def new_client(settings: StripeSettings) -> stripe.StripeClient:
    """A client of its own: key, base address, timeout and retries from the settings."""
    return stripe.StripeClient(
        settings.secret_key.get_secret_value(),
        base_addresses={"api": settings.api_base.rstrip("/")},
        stripe_version=settings.api_version,
        max_network_retries=settings.max_network_retries,
        http_client=stripe.RequestsClient(timeout=settings.timeout_seconds),
    )


@dataclass(frozen=True)
class StripeWebhookEvent:
    """A verified Stripe event: a signal to fetch its object from Stripe, never the truth itself."""

    event_id: str
    event_type: str
    object_type: str | None
    object_id: str | None
    created: int | None
    payload: Mapping[str, Any]


def parse_webhook(
    settings: StripeSettings, body: bytes, headers: dict[str, str], now: datetime
) -> StripeWebhookEvent:
    """Verify ``Stripe-Signature`` against our clock, then read which event and object it is about."""
    verify_signature(
        settings.webhook_secret.get_secret_value(),
        body,
        header_value(headers),
        now,
        settings.webhook_tolerance_seconds,
    )
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationFailedError("the Stripe webhook body is not JSON") from exc
    if not isinstance(payload, dict) or not payload.get("id") or not isinstance(payload.get("type"), str):
        raise ValidationFailedError("the Stripe webhook is not an event")
    obj = as_dict(as_dict(payload.get("data")).get("object"))
    created = payload.get("created")
    return StripeWebhookEvent(
        event_id=str(payload["id"]),
        event_type=payload["type"],
        object_type=str(obj["object"]) if obj.get("object") else None,
        object_id=str(obj["id"]) if obj.get("id") else None,
        created=created if isinstance(created, int) else None,
        payload=payload,
    )
