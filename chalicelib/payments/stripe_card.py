"""Cards through Stripe (official ``stripe`` SDK): the adapter onto the payment-method interface.

The agreement is a Stripe Customer with a saved card. The order flow creates the Customer and either a
PaymentIntent for the first invoice with ``setup_future_usage=off_session`` (the card is saved when the
customer pays it on our Stripe.js page) or, when the first invoice is free, a SetupIntent. Later invoices
are charged off session; every request that creates something carries an ``Idempotency-Key`` derived
from our own ids (``charge-<invoice id>``, ``charge-<invoice id>-retry-<n>`` for dunning's n-th retry of a
declined card, ``refund-<refund id>``), so any retry replays the first answer.

A charge that needs authentication (``authentication_required``) or is declined comes back as a FAILED
result with the provider's codes and a ``customer_action_url``: the same PaymentIntent can still be paid
on session on our payment page, which dunning sends the customer. Each adapter has its own
``StripeClient``; the SDK's global ``stripe.api_key`` is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import stripe

from chalicelib.errors import ValidationFailedError
from chalicelib.money import Currency, Money
from chalicelib.payments.errors import (
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from chalicelib.payments.interface import (
    AgreementRequest,
    AgreementSetup,
    AgreementState,
    AgreementStatus,
    ChargeResult,
    ChargeStatus,
    InvoiceCharge,
    RefundResult,
)
from chalicelib.payments.stripe_signature import header_value, verify_signature
from chalicelib.settings import StripeSettings

PROVIDER = "stripe"
_T = TypeVar("_T")
# Stripe allows 255 characters; our ids are far shorter, so keys are readable.
_IDEMPOTENCY_KEY_MAX = 255
_DESCRIPTION_MAX = 1000
_CANCELLABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)
_STOPPED = "stopped"
_LIST_LIMIT = 100


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
    card = _dict(method.get("card"))
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


def _dict(value: Any) -> dict[str, Any]:
    if isinstance(value, stripe.StripeObject):
        return value.to_dict()
    return dict(value) if isinstance(value, Mapping) else {}


def _money(value: Any, currency: Currency) -> Money | None:
    return Money(value, currency) if isinstance(value, int) and not isinstance(value, bool) else None


def _currency(value: Any) -> Currency:
    try:
        return Currency(str(value).upper())
    except ValueError as exc:
        raise ProviderError(detail=f"Stripe reported unknown currency {value!r}", provider=PROVIDER) from exc


def _error_body(exc: stripe.StripeError) -> dict[str, Any]:
    body = exc.json_body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return {}


def provider_error(exc: stripe.StripeError, action: str) -> ProviderError:
    """A typed error for anything the SDK raised that is not a card's answer."""
    error = _error_body(exc)
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
    currency = _currency(intent.get("currency"))
    provider_status = str(intent.get("status"))
    amount = _money(intent.get("amount"), currency)
    charge = _dict(intent.get("latest_charge"))
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


class StripeCardAdapter:
    """The payment interface over Stripe cards: a Customer per agreement, a PaymentIntent per charge."""

    provider = PROVIDER

    def __init__(self, settings: StripeSettings, client: stripe.StripeClient | None = None) -> None:
        self._settings = settings
        self._client = client or new_client(settings)

    # -- plumbing ----------------------------------------------------------------------------------

    def _call(self, action: str, request: Callable[[], _T]) -> _T:
        try:
            return request()
        except stripe.StripeError as exc:
            raise provider_error(exc, action) from exc

    def _key(self, key: str) -> stripe.RequestOptions:
        return {"idempotency_key": key}

    def action_url(self, intent_id: str) -> str:
        """Our page where the customer confirms or pays ``intent_id`` on session."""
        return f"{self._settings.payment_page_url.rstrip('/')}/{intent_id}"

    def _charge_result(
        self, intent: Mapping[str, Any], error: Mapping[str, Any] | None = None
    ) -> StripeChargeResult:
        status, amount, captured, refunded = intent_status(intent)
        failure = _dict(error) if error is not None else _dict(intent.get("last_payment_error"))
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
            customer_action_url=self.action_url(intent_id) if needs_customer else None,
        )

    def _retrieve_intent(self, intent_id: str) -> dict[str, Any]:
        intent = self._call(
            f"fetch PaymentIntent {intent_id}",
            lambda: self._client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]}),
        )
        return _dict(intent)

    def _customer_intents(self, customer_id: str) -> Iterator[dict[str, Any]]:
        page = self._call(
            f"list the PaymentIntents of {customer_id}",
            lambda: self._client.v1.payment_intents.list({"customer": customer_id, "limit": _LIST_LIMIT}),
        )
        for intent in page.auto_paging_iter():
            yield _dict(intent)

    def _intent_for_invoice(
        self, customer_id: str, invoice_id: str, attempt: int = 0
    ) -> dict[str, Any] | None:
        """The PaymentIntent of one attempt at an invoice (metadata ``attempt``; none on the first)."""
        for intent in self._customer_intents(customer_id):
            metadata = _dict(intent.get("metadata"))
            if metadata.get("invoice_id") == invoice_id and str(metadata.get("attempt", 0)) == str(attempt):
                return self._retrieve_intent(str(intent["id"]))
        return None

    def _cards(self, customer_id: str) -> list[dict[str, Any]]:
        page = self._call(
            f"list the cards of {customer_id}",
            lambda: self._client.v1.customers.payment_methods.list(
                customer_id, {"type": "card", "limit": _LIST_LIMIT}
            ),
        )
        return [_dict(method) for method in page.auto_paging_iter()]

    def _customer(self, customer_id: str) -> dict[str, Any]:
        customer = self._call(
            f"fetch customer {customer_id}", lambda: self._client.v1.customers.retrieve(customer_id)
        )
        return _dict(customer)

    def saved_card(self, customer_id: str) -> str | None:
        """The card to charge off session: the customer's default, else the newest saved card."""
        customer = self._customer(customer_id)
        if customer.get("deleted") or _dict(customer.get("metadata")).get("abo_agreement") == _STOPPED:
            return None
        default = _dict(customer.get("invoice_settings")).get("default_payment_method")
        if isinstance(default, Mapping):
            default = default.get("id")
        if default:
            return str(default)
        cards = sorted(self._cards(customer_id), key=lambda card: int(card.get("created") or 0), reverse=True)
        return str(cards[0]["id"]) if cards else None

    def card_details(self, customer_id: str) -> SavedCard | None:
        """The card :meth:`saved_card` would charge, with brand, last four digits and expiry (for the
        card-expiry notice); None once the customer is stopped or has no card. One request: the customer
        with its default card expanded; a second only when it has no default (its cards are listed)."""
        customer = self._call(
            f"fetch customer {customer_id} and its card",
            lambda: self._client.v1.customers.retrieve(
                customer_id, {"expand": ["invoice_settings.default_payment_method"]}
            ),
        )
        found = _dict(customer)
        if found.get("deleted") or _dict(found.get("metadata")).get("abo_agreement") == _STOPPED:
            return None
        default = _dict(found.get("invoice_settings")).get("default_payment_method")
        if isinstance(default, str) and default:
            method_id = default
            default = _dict(
                self._call(
                    f"fetch payment method {method_id}",
                    lambda: self._client.v1.payment_methods.retrieve(method_id),
                )
            )
        if isinstance(default, Mapping) and default.get("id"):
            return saved_card_of(default)
        cards = sorted(self._cards(customer_id), key=lambda card: int(card.get("created") or 0), reverse=True)
        return saved_card_of(cards[0]) if cards else None

    def client_secret(self, intent_id: str) -> str:
        """The client secret of a PaymentIntent or SetupIntent, for our payment page's Stripe.js only."""
        if intent_id.startswith("seti_"):
            intent: Any = self._call(
                f"fetch SetupIntent {intent_id}", lambda: self._client.v1.setup_intents.retrieve(intent_id)
            )
        else:
            intent = self._call(
                f"fetch PaymentIntent {intent_id}",
                lambda: self._client.v1.payment_intents.retrieve(intent_id),
            )
        secret = _dict(intent).get("client_secret")
        if not secret:
            raise ProviderError(
                detail=f"Stripe returned {intent_id} without a client secret", provider=PROVIDER
            )
        return str(secret)

    # -- the interface -----------------------------------------------------------------------------

    def set_up_agreement(self, request: AgreementRequest) -> StripeAgreementSetup:
        """Create the Customer, then the intent the customer confirms on our page with Stripe.js.

        A first invoice to pay becomes a PaymentIntent that saves the card for off-session use; a free
        one (a trial) becomes a SetupIntent that only saves the card.
        """
        first = request.first_invoice
        metadata = {"agreement_id": request.agreement_id}
        customer = self._call(
            "create a customer",
            lambda: self._client.v1.customers.create(
                {
                    "description": request.product_name[:_DESCRIPTION_MAX],
                    "metadata": metadata,
                    **({"phone": request.phone_number} if request.phone_number else {}),
                },
                self._key(idempotency_key("customer", request.agreement_id)),
            ),
        )
        customer_id = customer.id
        if first.amount.amount > 0:
            intent = self._call(
                f"create the first payment of invoice {first.invoice_id}",
                lambda: self._client.v1.payment_intents.create(
                    {
                        "amount": first.amount.amount,
                        "currency": first.amount.currency.value.lower(),
                        "customer": customer_id,
                        "allowed_payment_method_types": ["card"],
                        "setup_future_usage": "off_session",
                        "description": first.description[:_DESCRIPTION_MAX],
                        "metadata": {**metadata, "invoice_id": first.invoice_id},
                    },
                    self._key(idempotency_key("charge", first.invoice_id)),
                ),
            )
            intent_id, secret, first_ref = intent.id, intent.client_secret, intent.id
        else:
            setup = self._call(
                "create a SetupIntent",
                lambda: self._client.v1.setup_intents.create(
                    {
                        "customer": customer_id,
                        "usage": "off_session",
                        "allowed_payment_method_types": ["card"],
                        "metadata": metadata,
                    },
                    self._key(idempotency_key("setup", request.agreement_id)),
                ),
            )
            intent_id, secret, first_ref = setup.id, setup.client_secret, None
        if not secret:
            raise ProviderError(
                detail=f"Stripe created {intent_id} without a client secret", provider=PROVIDER
            )
        return StripeAgreementSetup(
            agreement_ref=customer_id,
            confirmation_url=self.action_url(intent_id),
            status=AgreementStatus.PENDING,
            first_charge_ref=first_ref,
            intent_id=intent_id,
            client_secret=secret,
        )

    def take_first_payment(self, agreement_ref: str, invoice: InvoiceCharge) -> StripeChargeResult:
        """The first invoice's PaymentIntent as it stands; once paid, its card becomes the default."""
        intent = self._intent_for_invoice(agreement_ref, invoice.invoice_id)
        if intent is None:
            raise ProviderRejectedError(
                detail=f"Stripe has no payment of invoice {invoice.invoice_id} for {agreement_ref}",
                provider=PROVIDER,
            )
        result = self._charge_result(intent)
        method = intent.get("payment_method")
        if isinstance(method, Mapping):
            method = method.get("id")
        if result.status == ChargeStatus.PAID and method:
            self.make_default(agreement_ref, str(method))
        return result

    def make_default(self, customer_id: str, payment_method_id: str) -> None:
        """Attach a card to the customer (if it is not yet) and charge it from now on."""
        method = self._call(
            f"fetch payment method {payment_method_id}",
            lambda: self._client.v1.payment_methods.retrieve(payment_method_id),
        )
        if method.customer != customer_id:
            self._call(
                f"attach {payment_method_id} to {customer_id}",
                lambda: self._client.v1.payment_methods.attach(payment_method_id, {"customer": customer_id}),
            )
        self._call(
            f"make {payment_method_id} the default of {customer_id}",
            lambda: self._client.v1.customers.update(
                customer_id, {"invoice_settings": {"default_payment_method": payment_method_id}}
            ),
        )

    def charge_invoice(self, agreement_ref: str, invoice: InvoiceCharge) -> StripeChargeResult:
        """Charge the saved card off session; a repeat returns the same PaymentIntent (and one charge).
        A retry (``invoice.attempt`` > 0) is a PaymentIntent of its own, keyed and labelled by attempt."""
        if invoice.amount.amount <= 0:
            raise ValidationFailedError(f"invoice {invoice.invoice_id} has nothing to charge")
        card = self.saved_card(agreement_ref)
        if card is None:
            raise ProviderRejectedError(
                detail=f"Stripe customer {agreement_ref} has no saved card to charge", provider=PROVIDER
            )
        attempt = invoice.attempt
        key = idempotency_key(
            "charge", f"{invoice.invoice_id}-retry-{attempt}" if attempt else invoice.invoice_id
        )
        metadata = {"invoice_id": invoice.invoice_id, **({"attempt": str(attempt)} if attempt else {})}
        try:
            intent = self._client.v1.payment_intents.create(
                {
                    "amount": invoice.amount.amount,
                    "currency": invoice.amount.currency.value.lower(),
                    "customer": agreement_ref,
                    "payment_method": card,
                    "allowed_payment_method_types": ["card"],
                    "confirm": True,
                    "off_session": True,
                    "description": invoice.description[:_DESCRIPTION_MAX],
                    "metadata": metadata,
                },
                self._key(key),
            )
        except stripe.CardError as exc:
            error = _error_body(exc)
            failed = _dict(error.get("payment_intent"))
            if not failed.get("id"):
                found = self._intent_for_invoice(agreement_ref, invoice.invoice_id, attempt)
                if found is None:
                    raise provider_error(exc, f"charge invoice {invoice.invoice_id}") from exc
                failed = found
            return self._charge_result(failed, error)
        except stripe.IdempotencyError as exc:
            # The card changed since the first attempt: the invoice's PaymentIntent exists already.
            found = self._intent_for_invoice(agreement_ref, invoice.invoice_id, attempt)
            if found is None:
                raise provider_error(exc, f"charge invoice {invoice.invoice_id}") from exc
            return self._charge_result(found)
        except stripe.StripeError as exc:
            raise provider_error(exc, f"charge invoice {invoice.invoice_id}") from exc
        return self._charge_result(self._retrieve_intent(intent.id))

    def refund(
        self, agreement_ref: str, charge_ref: str, amount: Money, description: str, refund_id: str
    ) -> RefundResult:
        """Refund ``amount`` of a PaymentIntent (a credit note); ``refund_id`` makes a retry safe."""
        refund = self._call(
            f"refund {charge_ref}",
            lambda: self._client.v1.refunds.create(
                {
                    "payment_intent": charge_ref,
                    "amount": amount.amount,
                    "metadata": {"refund_id": refund_id, "description": description[:500]},
                },
                self._key(idempotency_key("refund", refund_id)),
            ),
        )
        if refund.amount != amount.amount or _currency(refund.currency) != amount.currency:
            raise ProviderError(
                detail=f"Stripe refunded {refund.amount} {refund.currency}, not {amount}", provider=PROVIDER
            )
        after = self.charge_status(agreement_ref, charge_ref)
        return RefundResult(charge_ref=charge_ref, refund_ref=refund.id, amount=amount, status=after.status)

    def agreement_status(self, agreement_ref: str) -> AgreementState:
        """ACTIVE while the customer has a card to charge; STOPPED once cancelled or deleted."""
        customer = self._customer(agreement_ref)
        if customer.get("deleted") or _dict(customer.get("metadata")).get("abo_agreement") == _STOPPED:
            return AgreementState(agreement_ref, AgreementStatus.STOPPED, "customer_stopped")
        if self.saved_card(agreement_ref):
            return AgreementState(agreement_ref, AgreementStatus.ACTIVE, "card_saved")
        return AgreementState(agreement_ref, AgreementStatus.PENDING, "no_card")

    def charge_status(self, agreement_ref: str, charge_ref: str) -> StripeChargeResult:
        """The PaymentIntent as Stripe sees it now."""
        return self._charge_result(self._retrieve_intent(charge_ref))

    def cancel_charge(self, agreement_ref: str, charge_ref: str) -> StripeChargeResult:
        """Cancel a PaymentIntent not yet paid (or release an uncaptured one)."""
        self._call(
            f"cancel {charge_ref}",
            lambda: self._client.v1.payment_intents.cancel(
                charge_ref, None, self._key(idempotency_key("cancel", charge_ref))
            ),
        )
        return self.charge_status(agreement_ref, charge_ref)

    def _detach(self, card_id: str) -> None:
        self._call(f"detach {card_id}", lambda: self._client.v1.payment_methods.detach(card_id))

    def cancel_agreement(self, agreement_ref: str) -> AgreementState:
        """Detach every saved card, cancel the intents still open and mark the customer stopped."""
        for intent in list(self._customer_intents(agreement_ref)):
            if intent.get("status") in _CANCELLABLE:
                self.cancel_charge(agreement_ref, str(intent["id"]))
        for card in self._cards(agreement_ref):
            self._detach(str(card["id"]))
        self._call(
            f"stop {agreement_ref}",
            lambda: self._client.v1.customers.update(
                agreement_ref,
                {"metadata": {"abo_agreement": _STOPPED}, "invoice_settings": {"default_payment_method": ""}},
            ),
        )
        return self.agreement_status(agreement_ref)


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
    obj = _dict(_dict(payload.get("data")).get("object"))
    created = payload.get("created")
    return StripeWebhookEvent(
        event_id=str(payload["id"]),
        event_type=payload["type"],
        object_type=str(obj["object"]) if obj.get("object") else None,
        object_id=str(obj["id"]) if obj.get("id") else None,
        created=created if isinstance(created, int) else None,
        payload=payload,
    )
