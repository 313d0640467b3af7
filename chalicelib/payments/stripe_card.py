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

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any, TypeVar

import stripe

from chalicelib.errors import ValidationFailedError
from chalicelib.money import Money
from chalicelib.payments.errors import ProviderError, ProviderRejectedError
from chalicelib.payments.interface import (
    AgreementRequest,
    AgreementState,
    AgreementStatus,
    ChargeStatus,
    InvoiceCharge,
    RefundResult,
)
from chalicelib.payments.stripe_api import (
    PROVIDER,
    SavedCard,
    StripeAgreementSetup,
    StripeChargeResult,
    as_dict,
    charge_result,
    currency_of,
    error_body,
    idempotency_key,
    new_client,
    provider_error,
    saved_card_of,
)
from chalicelib.settings import StripeSettings

_T = TypeVar("_T")
_DESCRIPTION_MAX = 1000
_CANCELLABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"}
)
_STOPPED = "stopped"
_LIST_LIMIT = 100


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

    def _retrieve_intent(self, intent_id: str) -> dict[str, Any]:
        intent = self._call(
            f"fetch PaymentIntent {intent_id}",
            lambda: self._client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]}),
        )
        return as_dict(intent)

    def _customer_intents(self, customer_id: str) -> Iterator[dict[str, Any]]:
        page = self._call(
            f"list the PaymentIntents of {customer_id}",
            lambda: self._client.v1.payment_intents.list({"customer": customer_id, "limit": _LIST_LIMIT}),
        )
        for intent in page.auto_paging_iter():
            yield as_dict(intent)

    def _intent_for_invoice(
        self, customer_id: str, invoice_id: str, attempt: int = 0
    ) -> dict[str, Any] | None:
        """The PaymentIntent of one attempt at an invoice (metadata ``attempt``; none on the first)."""
        for intent in self._customer_intents(customer_id):
            metadata = as_dict(intent.get("metadata"))
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
        return [as_dict(method) for method in page.auto_paging_iter()]

    def _customer(self, customer_id: str) -> dict[str, Any]:
        customer = self._call(
            f"fetch customer {customer_id}", lambda: self._client.v1.customers.retrieve(customer_id)
        )
        return as_dict(customer)

    def saved_card(self, customer_id: str) -> str | None:
        """The card to charge off session: the customer's default, else the newest saved card."""
        customer = self._customer(customer_id)
        if customer.get("deleted") or as_dict(customer.get("metadata")).get("abo_agreement") == _STOPPED:
            return None
        default = as_dict(customer.get("invoice_settings")).get("default_payment_method")
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
        found = as_dict(customer)
        if found.get("deleted") or as_dict(found.get("metadata")).get("abo_agreement") == _STOPPED:
            return None
        default = as_dict(found.get("invoice_settings")).get("default_payment_method")
        if isinstance(default, str) and default:
            method_id = default
            default = as_dict(
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
        secret = as_dict(intent).get("client_secret")
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
        intent_id, secret, first_ref = self._first_intent(request, customer_id)
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

    def _first_intent(
        self, request: AgreementRequest, customer_id: str
    ) -> tuple[str, str | None, str | None]:
        """The intent the customer confirms: the first invoice's PaymentIntent saving the card, or a
        SetupIntent when the first invoice is free; its id, client secret and first charge's reference."""
        first = request.first_invoice
        metadata = {"agreement_id": request.agreement_id}
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
        return intent_id, secret, first_ref

    def take_first_payment(self, agreement_ref: str, invoice: InvoiceCharge) -> StripeChargeResult:
        """The first invoice's PaymentIntent as it stands; once paid, its card becomes the default."""
        intent = self._intent_for_invoice(agreement_ref, invoice.invoice_id)
        if intent is None:
            raise ProviderRejectedError(
                detail=f"Stripe has no payment of invoice {invoice.invoice_id} for {agreement_ref}",
                provider=PROVIDER,
            )
        result = charge_result(intent, self.action_url)
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
            error = error_body(exc)
            failed = as_dict(error.get("payment_intent"))
            if not failed.get("id"):
                found = self._intent_for_invoice(agreement_ref, invoice.invoice_id, attempt)
                if found is None:
                    raise provider_error(exc, f"charge invoice {invoice.invoice_id}") from exc
                failed = found
            return charge_result(failed, self.action_url, error)
        except stripe.IdempotencyError as exc:
            # The card changed since the first attempt: the invoice's PaymentIntent exists already.
            found = self._intent_for_invoice(agreement_ref, invoice.invoice_id, attempt)
            if found is None:
                raise provider_error(exc, f"charge invoice {invoice.invoice_id}") from exc
            return charge_result(found, self.action_url)
        except stripe.StripeError as exc:
            raise provider_error(exc, f"charge invoice {invoice.invoice_id}") from exc
        return charge_result(self._retrieve_intent(intent.id), self.action_url)

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
        if refund.amount != amount.amount or currency_of(refund.currency) != amount.currency:
            raise ProviderError(
                detail=f"Stripe refunded {refund.amount} {refund.currency}, not {amount}", provider=PROVIDER
            )
        after = self.charge_status(agreement_ref, charge_ref)
        return RefundResult(charge_ref=charge_ref, refund_ref=refund.id, amount=amount, status=after.status)

    def agreement_status(self, agreement_ref: str) -> AgreementState:
        """ACTIVE while the customer has a card to charge; STOPPED once cancelled or deleted."""
        customer = self._customer(agreement_ref)
        if customer.get("deleted") or as_dict(customer.get("metadata")).get("abo_agreement") == _STOPPED:
            return AgreementState(agreement_ref, AgreementStatus.STOPPED, "customer_stopped")
        if self.saved_card(agreement_ref):
            return AgreementState(agreement_ref, AgreementStatus.ACTIVE, "card_saved")
        return AgreementState(agreement_ref, AgreementStatus.PENDING, "no_card")

    def charge_status(self, agreement_ref: str, charge_ref: str) -> StripeChargeResult:
        """The PaymentIntent as Stripe sees it now."""
        return charge_result(self._retrieve_intent(charge_ref), self.action_url)

    def cancel_charge(self, agreement_ref: str, charge_ref: str) -> StripeChargeResult:
        """Cancel a PaymentIntent not yet paid (or release an uncaptured one)."""
        self._call(
            f"cancel {charge_ref}",
            lambda: self._client.v1.payment_intents.cancel(
                charge_ref, None, self._key(idempotency_key("cancel", charge_ref))
            ),
        )
        return self.charge_status(agreement_ref, charge_ref)

    def cancel_agreement(self, agreement_ref: str) -> AgreementState:
        """Detach every saved card, cancel the intents still open and mark the customer stopped."""
        for intent in list(self._customer_intents(agreement_ref)):
            if intent.get("status") in _CANCELLABLE:
                self.cancel_charge(agreement_ref, str(intent["id"]))
        for card in self._cards(agreement_ref):
            detach = partial(self._client.v1.payment_methods.detach, str(card["id"]))
            self._call(f"detach {card['id']}", detach)
        self._call(
            f"stop {agreement_ref}",
            lambda: self._client.v1.customers.update(
                agreement_ref,
                {"metadata": {"abo_agreement": _STOPPED}, "invoice_settings": {"default_payment_method": ""}},
            ),
        )
        return self.agreement_status(agreement_ref)
