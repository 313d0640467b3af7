"""Vipps MobilePay Recurring v3: the adapter onto the payment interface, over the HTTP client of
:mod:`chalicelib.payments.vipps_client`, and the verified webhooks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.clock import Clock, local_date
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.money import Currency, Money
from chalicelib.payments.errors import ProviderError
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
from chalicelib.payments.vipps_client import PROVIDER, VippsClient, idempotency_key
from chalicelib.payments.vipps_signature import verify_webhook
from chalicelib.settings import VippsSettings

_ORDER_ID = re.compile(r"[a-zA-Z0-9-]{1,50}")
_TEXT_MAX = 45


AGREEMENT_STATUSES: Mapping[str, AgreementStatus] = {
    "PENDING": AgreementStatus.PENDING,
    "ACTIVE": AgreementStatus.ACTIVE,
    "STOPPED": AgreementStatus.STOPPED,
    "EXPIRED": AgreementStatus.EXPIRED,
}

CHARGE_STATUSES: Mapping[str, ChargeStatus] = {
    "PENDING": ChargeStatus.PENDING,
    "DUE": ChargeStatus.PENDING,
    "PROCESSING": ChargeStatus.PENDING,
    "RESERVED": ChargeStatus.RESERVED,
    "CHARGED": ChargeStatus.PAID,
    # What was captured is paid; the rest was released.
    "PARTIALLY_CAPTURED": ChargeStatus.PAID,
    "FAILED": ChargeStatus.FAILED,
    "CANCELLED": ChargeStatus.CANCELLED,
    "PARTIALLY_REFUNDED": ChargeStatus.PARTIALLY_REFUNDED,
    "REFUNDED": ChargeStatus.REFUNDED,
}


def order_id_for(invoice_id: str) -> str:
    """The Vipps ``orderId`` (and so ``chargeId``) of an invoice: its id with ``_`` spelled ``-``."""
    order_id = invoice_id.replace("_", "-")
    if not _ORDER_ID.fullmatch(order_id):
        raise ValidationFailedError(
            f"invoice id {invoice_id!r} cannot be a Vipps orderId",
            [FieldError("invoice_id", "must be 1-50 characters of [a-zA-Z0-9_-]")],
        )
    return order_id


def invoice_id_for(charge_id: str) -> str:
    """The invoice a Vipps ``chargeId`` (its ``orderId``) was made for, if our ids have no dashes (ours
    never do): the inverse of :func:`order_id_for`. A guess to check against the charge record."""
    return charge_id.replace("-", "_")


def _nok(amount: Money) -> None:
    # Recurring v3 takes NOK only (CurrencyV3).
    if amount.currency != Currency.NOK:
        raise ValidationFailedError(
            f"Vipps Recurring charges NOK only, not {amount.currency}",
            [FieldError("currency", "Vipps Recurring charges NOK only")],
        )


def _money(value: Any, currency: Currency) -> Money | None:
    return Money(value, currency) if isinstance(value, int) and not isinstance(value, bool) else None


def charge_result(payload: Mapping[str, Any]) -> ChargeResult:
    """A fetched Vipps charge as the provider-neutral result."""
    provider_status = str(payload.get("status"))
    status = CHARGE_STATUSES.get(provider_status)
    if status is None:
        raise ProviderError(
            detail=f"Vipps reported unknown charge status {provider_status!r}", provider=PROVIDER
        )
    currency = Currency(str(payload.get("currency", "NOK")))
    raw_summary = payload.get("summary")
    summary: Mapping[str, Any] = raw_summary if isinstance(raw_summary, dict) else {}
    reason = payload.get("failureReason")
    return ChargeResult(
        charge_ref=str(payload["id"]),
        status=status,
        provider_status=provider_status,
        amount=_money(payload.get("amount"), currency),
        captured=_money(summary.get("captured"), currency),
        refunded=_money(summary.get("refunded"), currency),
        failure_reason=str(reason) if reason else None,
    )


def agreement_state(payload: Mapping[str, Any]) -> AgreementState:
    """A fetched Vipps agreement as the provider-neutral state."""
    # The schema's default status is ACTIVE.
    provider_status = str(payload.get("status") or "ACTIVE")
    status = AGREEMENT_STATUSES.get(provider_status)
    if status is None:
        raise ProviderError(
            detail=f"Vipps reported unknown agreement status {provider_status!r}", provider=PROVIDER
        )
    return AgreementState(agreement_ref=str(payload["id"]), status=status, provider_status=provider_status)


class VippsAdapter:
    """The payment-method interface over Vipps Recurring v3 (DIRECT_CAPTURE charges, NOK)."""

    provider = PROVIDER

    def __init__(self, client: VippsClient, settings: VippsSettings, clock: Clock) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock

    def set_up_agreement(self, request: AgreementRequest) -> AgreementSetup:
        """Draft an agreement with the first invoice as its initial charge; return where to confirm it."""
        _nok(request.price)
        first = request.first_invoice
        _nok(first.amount)
        body: dict[str, Any] = {
            "pricing": {"type": "LEGACY", "amount": request.price.amount, "currency": "NOK"},
            "interval": {"unit": request.interval_unit.value, "count": request.interval_count},
            "merchantRedirectUrl": self._settings.merchant_redirect_url,
            "merchantAgreementUrl": self._settings.merchant_agreement_url,
            "productName": request.product_name[:_TEXT_MAX],
            "externalId": request.agreement_id,
        }
        if request.product_description:
            body["productDescription"] = request.product_description[:100]
        if request.phone_number:
            body["phoneNumber"] = request.phone_number
        # A free first invoice (a trial) has nothing to charge: the agreement starts without one.
        if first.amount.amount > 0:
            body["initialCharge"] = {
                "amount": first.amount.amount,
                "description": first.description[:_TEXT_MAX],
                "transactionType": "DIRECT_CAPTURE",
                "orderId": order_id_for(first.invoice_id),
                "externalId": first.invoice_id,
            }
        payload = self._client.draft_agreement(body, idempotency_key("draft", request.agreement_id))
        url = payload.get("vippsConfirmationUrl")
        if not url:
            raise ProviderError(
                detail="Vipps drafted the agreement without a confirmation URL", provider=PROVIDER
            )
        charge_id = payload.get("chargeId")
        return AgreementSetup(
            agreement_ref=str(payload["agreementId"]),
            confirmation_url=str(url),
            status=AgreementStatus.PENDING,
            first_charge_ref=str(charge_id) if charge_id else None,
        )

    def take_first_payment(self, agreement_ref: str, invoice: InvoiceCharge) -> ChargeResult:
        """The initial charge: Vipps takes it when the customer confirms, so this reports it."""
        return self.charge_status(agreement_ref, order_id_for(invoice.invoice_id))

    def charge_invoice(self, agreement_ref: str, invoice: InvoiceCharge) -> ChargeResult:
        """Create the invoice's charge (``orderId`` from its id), due no earlier than tomorrow."""
        _nok(invoice.amount)
        order_id = order_id_for(invoice.invoice_id)
        # Vipps' own calendar (Oslo), whatever the seller's zone.
        earliest = local_date(self._clock.now()) + timedelta(days=1)
        due = max(invoice.due, earliest)
        body = {
            "amount": invoice.amount.amount,
            "transactionType": "DIRECT_CAPTURE",
            "description": invoice.description[:_TEXT_MAX],
            "due": due.isoformat(),
            "retryDays": self._settings.charge_retry_days,
            "orderId": order_id,
            "externalId": invoice.invoice_id,
        }
        payload = self._client.create_charge(agreement_ref, body, idempotency_key("charge", order_id))
        # A new charge is PENDING; fetching it here would spend the tight fetch-charge rate limit.
        return ChargeResult(
            charge_ref=str(payload.get("chargeId") or order_id),
            status=ChargeStatus.PENDING,
            provider_status="PENDING",
            amount=invoice.amount,
        )

    def refund(
        self, agreement_ref: str, charge_ref: str, amount: Money, description: str, refund_id: str
    ) -> RefundResult:
        """Refund ``amount`` of a charge; the charge's status afterwards is fetched."""
        _nok(amount)
        body = {"amount": amount.amount, "description": description[:_TEXT_MAX]}
        self._client.refund_charge(agreement_ref, charge_ref, body, idempotency_key("refund", refund_id))
        after = self.charge_status(agreement_ref, charge_ref)
        return RefundResult(charge_ref=charge_ref, refund_ref=refund_id, amount=amount, status=after.status)

    def agreement_status(self, agreement_ref: str) -> AgreementState:
        """The agreement as Vipps sees it."""
        return agreement_state(self._client.fetch_agreement(agreement_ref))

    def charge_status(self, agreement_ref: str, charge_ref: str) -> ChargeResult:
        """The charge as Vipps sees it."""
        return charge_result(self._client.fetch_charge(agreement_ref, charge_ref))

    def list_charges(self, agreement_ref: str) -> list[ChargeResult]:
        """Every charge of the agreement, the initial one included."""
        return [charge_result(item) for item in self._client.list_charges(agreement_ref)]

    def cancel_charge(self, agreement_ref: str, charge_ref: str) -> ChargeResult:
        """Cancel a charge not yet taken (or release a reservation)."""
        self._client.cancel_charge(agreement_ref, charge_ref, idempotency_key("cancel", charge_ref))
        return self.charge_status(agreement_ref, charge_ref)

    def cancel_agreement(self, agreement_ref: str) -> AgreementState:
        """Stop the agreement (irreversible); Vipps cancels its pending, due and reserved charges."""
        key = idempotency_key("stop", agreement_ref)
        self._client.update_agreement(agreement_ref, {"status": "STOPPED"}, key)
        return self.agreement_status(agreement_ref)


@dataclass(frozen=True)
class VippsWebhookEvent:
    """A verified Vipps webhook: a signal to fetch the agreement or charge, never the truth itself."""

    event_type: str
    agreement_ref: str | None
    charge_ref: str | None
    occurred: str | None
    payload: Mapping[str, Any]


def parse_webhook(settings: VippsSettings, body: bytes, headers: Mapping[str, str]) -> VippsWebhookEvent:
    """Verify a webhook against the registered URL and secret, then read which resource it is about."""
    verify_webhook(settings.webhook_secret.get_secret_value(), settings.webhook_url, body, headers)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise ValidationFailedError("the Vipps webhook body is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("eventType"), str):
        raise ValidationFailedError("the Vipps webhook has no eventType")
    agreement = payload.get("agreementId")
    charge = payload.get("chargeId")
    occurred = payload.get("occurred")
    return VippsWebhookEvent(
        event_type=payload["eventType"],
        agreement_ref=str(agreement) if agreement else None,
        charge_ref=str(charge) if charge else None,
        occurred=str(occurred) if occurred else None,
        payload=payload,
    )
