"""Creating a charge at its provider, the step the charging job and dunning's card retries share: the
invoice's charge record is ``creating`` before the call; the call is keyed by invoice and attempt (a repeat
is the same charge); once the provider has it, the record becomes ``open`` with the provider's reference,
and the outcome the provider already knows is applied.
"""

from __future__ import annotations

from chalicelib.flows.payment_context import ATTEMPTS, PaymentContext
from chalicelib.flows.reconcile_payment import ReconcilePayment
from chalicelib.observability import logger
from chalicelib.payments.errors import ProviderRejectedError
from chalicelib.payments.interface import ChargeResult, ChargeStatus, InvoiceCharge
from chalicelib.payments.reading import HeldCharge
from chalicelib.payments.records import ChargeRecord, ChargeState, charge_item, charge_keys, reference_item
from chalicelib.store.documents import DocumentItem, WriteConflictError
from chalicelib.values import PaymentMethod


class ProviderCharge:
    """Sends a marked charge to its provider and records that the provider has it."""

    def __init__(self, ctx: PaymentContext, reconcile: ReconcilePayment) -> None:
        self._ctx = ctx
        self._records = ctx.records
        self._reconcile = reconcile

    def charge(
        self,
        method: PaymentMethod,
        agreement_ref: str,
        charge: InvoiceCharge,
        entry: DocumentItem | None,
        held: HeldCharge | None = None,
    ) -> bool:
        """Create the charge at the provider (its idempotency key makes a repeat the same charge), record
        it as open and apply its outcome; False when the provider refused the request. ``held``: the
        ``creating`` record (and the invoice) as the caller has just read or written them."""
        invoice_id = charge.invoice_id
        try:
            result = self._ctx.adapter(method).charge_invoice(agreement_ref, charge)
        except ProviderRejectedError as error:
            logger.warning("charge refused", extra={"invoice_id": invoice_id, "error": str(error)})
            rejected = ChargeResult(
                charge_ref="",
                status=ChargeStatus.FAILED,
                provider_status="rejected",
                failure_reason=(error.problem_detail or error.detail or "rejected")[:200],
            )
            opened = self._opened(invoice_id, None, entry, held)
            self._reconcile.apply_charge(invoice_id, rejected, opened)
            return False
        opened = self._opened(invoice_id, result.charge_ref, entry, held)
        if result.status != ChargeStatus.PENDING:
            self._reconcile.apply_charge(invoice_id, result, opened)
        return True

    def _opened(
        self, invoice_id: str, charge_ref: str | None, entry: DocumentItem | None, held: HeldCharge | None
    ) -> HeldCharge | None:
        """The provider has the charge: the record becomes open (with the provider's reference and its
        lookup) and the invoice leaves the charge index (``entry``; none for a retry), in one transaction.
        The open record as written (with ``held``'s invoice), None when it was not ours to open."""
        invoice = held.invoice if held is not None else None
        for _ in range(ATTEMPTS):
            if held is not None:
                found: tuple[ChargeRecord, int] | None = (held.record, held.version)
                held = None
            else:
                found = self._records.charge(invoice_id)
            if found is None or found[0].state != ChargeState.CREATING:
                if entry is not None:
                    self.unindex(entry)
                return None
            record, version = found
            opened = record.model_copy(
                update={
                    "state": ChargeState.OPEN,
                    "charge_ref": charge_ref or record.charge_ref,
                    "updated_at": self._ctx.clock.now(),
                }
            )
            creates = (
                [reference_item(record.provider, charge_ref, charge_keys(invoice_id))] if charge_ref else []
            )
            try:
                self._ctx.store.write(
                    creates,
                    [(charge_item(opened, version), version)],
                    deletes=[entry] if entry is not None else [],
                )
            except WriteConflictError:
                continue
            return HeldCharge(opened, version + 1, invoice)
        return None

    def unindex(self, entry: DocumentItem) -> None:
        """Take an invoice off the charging job's index (nothing left to charge there)."""
        self._ctx.store.write([], [], deletes=[entry])
