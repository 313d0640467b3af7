"""Acting on a queued provider webhook (``functions/payment_events.py``): find the set-up or charge the
event names through the provider's reference and reconcile it with the provider. The event is only a
signal: duplicates and reordered events change nothing.
"""

from __future__ import annotations

from typing import Any

from chalicelib.flows.payment_context import PaymentContext
from chalicelib.flows.reconcile_payment import ReconcilePayment
from chalicelib.observability import logger
from chalicelib.payments.vipps import invoice_id_for


class PaymentWebhook:
    """Turns one queued webhook event into a reconciliation of what it is about."""

    def __init__(self, ctx: PaymentContext, reconcile: ReconcilePayment) -> None:
        self._records = ctx.records
        self._reconcile = reconcile

    def process_event(self, message: dict[str, Any]) -> str:  # noqa: PLR0911 - one outcome per target
        """Act on one queued webhook event: find what it is about and fetch that from the provider."""
        provider = str(message.get("provider"))
        event_type = str(message.get("event_type"))
        if provider == "vipps":
            if message.get("charge_ref"):
                charge_ref = str(message["charge_ref"])
                # A Vipps charge's id is its invoice's (the orderId we gave): the record and invoice are
                # read at once, and the lookup is needed only when the record is not that charge's.
                held = self._records.charge_and_invoice(invoice_id_for(charge_ref))
                if (
                    held is not None
                    and held.record.provider == provider
                    and held.record.charge_ref == charge_ref
                ):
                    self._reconcile.reconcile_charge(held.record.invoice_id, held)
                    return "charge"
                target = self._records.follow(provider, charge_ref)
                if target is not None and target[0].startswith("PAYCHARGE#"):
                    self._reconcile.reconcile_charge(target[0].removeprefix("PAYCHARGE#"))
                    return "charge"
            if message.get("agreement_ref"):
                target = self._records.follow(provider, str(message["agreement_ref"]))
                if target is not None and target[0].startswith("PAYSETUP#"):
                    self._reconcile.reconcile_setup(target[0].removeprefix("PAYSETUP#"))
                    return "agreement"
            return "unknown"
        if provider == "stripe":
            object_id = str(message.get("object_id") or "")
            target = self._records.follow(provider, object_id) if object_id else None
            if target is None:
                return "unknown"
            if target[0].startswith("PAYCHARGE#"):
                self._reconcile.reconcile_charge(target[0].removeprefix("PAYCHARGE#"))
                return "charge"
            if target[0].startswith("PAYSETUP#"):
                self._reconcile.reconcile_setup(target[0].removeprefix("PAYSETUP#"))
                return "agreement"
        logger.info("payment event ignored", extra={"provider": provider, "event_type": event_type})
        return "ignored"
