"""The payment use cases, built once over one :class:`PaymentContext` (they call each other: polling
reconciles and refunds, the charging job sends charges whose outcome reconciling applies)."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.flows.charge import ChargeDueInvoices
from chalicelib.flows.charge_retries import RetryCardCharges
from chalicelib.flows.payment_context import PaymentContext
from chalicelib.flows.payment_notices import PaymentNotices
from chalicelib.flows.payment_webhook import PaymentWebhook
from chalicelib.flows.poll_payments import PollPayments
from chalicelib.flows.provider_charge import ProviderCharge
from chalicelib.flows.reconcile_payment import ReconcilePayment
from chalicelib.flows.refund_credit_note import RefundCreditNote
from chalicelib.flows.set_up_payment import SetUpPayment


@dataclass(frozen=True)
class PaymentFlows:
    """Each payment use case; an edge calls one of them."""

    set_up: SetUpPayment
    reconcile: ReconcilePayment
    charging: ChargeDueInvoices
    retries: RetryCardCharges
    refund: RefundCreditNote
    polling: PollPayments
    webhook: PaymentWebhook


def payment_flows(ctx: PaymentContext) -> PaymentFlows:
    """The payment use cases wired together over ``ctx``."""
    notices = PaymentNotices(ctx)
    reconcile = ReconcilePayment(ctx, notices)
    provider = ProviderCharge(ctx, reconcile)
    retries = RetryCardCharges(ctx, notices, reconcile, provider)
    set_up = SetUpPayment(ctx)
    refund = RefundCreditNote(ctx)
    return PaymentFlows(
        set_up=set_up,
        reconcile=reconcile,
        charging=ChargeDueInvoices(ctx, notices, provider, retries),
        retries=retries,
        refund=refund,
        polling=PollPayments(ctx, set_up, reconcile, refund),
        webhook=PaymentWebhook(ctx, reconcile),
    )
