"""Paying back a credit note through its provider: a credit note on an invoice paid by card or Vipps
refunds the credited amount there, keyed by the credit note's id. The refund record's move to ``done``, the
charge's refunded amount, the ledger's refund posting and ``payment.refunded`` are one transaction.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from chalicelib.billing.models import Invoice, InvoiceKind
from chalicelib.events import Event
from chalicelib.flows.payment_context import ATTEMPTS, INCOMING, PaymentContext
from chalicelib.ledger import rules
from chalicelib.ledger.posting import payment_refunded_event, posting_writes
from chalicelib.money import Currency, Money
from chalicelib.observability import logger
from chalicelib.payments.errors import ProviderError
from chalicelib.payments.records import (
    ChargeState,
    RefundRecord,
    RefundState,
    charge_item,
    refund_item,
)
from chalicelib.store.documents import DocumentItem, WriteConflictError
from chalicelib.values import PaymentMethod


class RefundCreditNote:
    """Refunds credit notes through the provider that took the credited invoice's payment."""

    def __init__(self, ctx: PaymentContext) -> None:
        self._ctx = ctx
        self._records = ctx.records

    def refund_credit_note(self, credit_note: Invoice) -> RefundRecord | None:
        """A credit note on an invoice paid through a provider: pay the credited amount back there, at
        most what the charge took and what the customer's account holds as credit (money the credit note
        released onto other open invoices is not paid out). Idempotent by the credit note's id; a
        provider outage leaves the refund open for the polling job."""
        if credit_note.kind != InvoiceKind.CREDIT_NOTE or not credit_note.credited_invoice_id:
            return None
        found = self._records.refund_record(credit_note.id)
        if found is None:
            decided = self._decide_refund(credit_note)
            if decided is None:
                return None
            with contextlib.suppress(WriteConflictError):
                self._ctx.store.put_new(refund_item(decided))
            found = self._records.refund_record(credit_note.id)
            if found is None:
                return None
        return self.pay_back(found[0])

    def refund_after_credit_note(self, credit_note: Invoice) -> RefundRecord | None:
        """The credit-note route's hook: refund through the provider; while the provider is down the
        refund stays open for the polling job (the credit note itself is already issued)."""
        try:
            return self.refund_credit_note(credit_note)
        except ProviderError as error:
            logger.warning(
                "credit note refund not paid yet",
                extra={"credit_note_id": credit_note.id, "error": str(error)},
            )
            found = self._records.refund_record(credit_note.id)
            return found[0] if found else None

    def _decide_refund(self, credit_note: Invoice) -> RefundRecord | None:
        assert credit_note.credited_invoice_id is not None
        charged = self._records.charge(credit_note.credited_invoice_id)
        if charged is None:
            return None
        charge = charged[0]
        if charge.state != ChargeState.PAID or charge.charge_ref is None:
            return None
        account = self._ctx.ledger.book().account(
            credit_note.customer_id, credit_note.legal_entity_id, credit_note.currency.value
        )
        amount = min(-credit_note.totals.gross, charge.paid_amount - charge.refunded, account.account.credit)
        if amount <= 0:
            return None
        now = self._ctx.clock.now()
        return RefundRecord(
            credit_note_id=credit_note.id,
            invoice_id=charge.invoice_id,
            provider=charge.provider,
            agreement_ref=charge.agreement_ref,
            charge_ref=charge.charge_ref,
            amount=amount,
            currency=credit_note.currency.value,
            created_at=now,
            updated_at=now,
        )

    def pay_back(self, record: RefundRecord) -> RefundRecord:
        """Refund an open refund record at its provider (keyed by the credit note's id, so a repeat is
        the same refund) and book it; a done record is returned as it is."""
        if record.state == RefundState.DONE:
            return record
        method = PaymentMethod.VIPPS if record.provider == "vipps" else PaymentMethod.CARD
        result = self._ctx.adapter(method).refund(
            record.agreement_ref,
            record.charge_ref,
            Money(record.amount, Currency(record.currency)),
            f"Kreditnota {record.credit_note_id}"[:45],
            record.credit_note_id,
        )
        for _ in range(ATTEMPTS):
            found = self._records.refund_record(record.credit_note_id)
            charged = self._records.charge(record.invoice_id)
            if found is None or charged is None:
                return record
            current, version = found
            if current.state == RefundState.DONE:
                return current
            charge, charge_version = charged
            now = self._ctx.clock.now()
            invoice = self._ctx.invoice(record.invoice_id)
            if invoice is None:
                return current
            done = current.model_copy(
                update={"state": RefundState.DONE, "refund_ref": result.refund_ref, "updated_at": now}
            )
            refunded = charge.model_copy(
                update={"refunded": charge.refunded + record.amount, "updated_at": now}
            )
            creates, booked, updates, events = self._booking(invoice, record, now)
            replaces = [
                (refund_item(done, version), version),
                (charge_item(refunded, charge_version), charge_version),
                *booked,
            ]
            try:
                self._ctx.store.write(creates, replaces, updates=updates, events=events)
            except WriteConflictError:
                continue
            logger.info("credit note refunded", extra={"credit_note_id": record.credit_note_id})
            return done
        return record

    def _booking(
        self, invoice: Invoice, record: RefundRecord, now: datetime
    ) -> tuple[list[DocumentItem], list[tuple[DocumentItem, int]], list[Any], list[Event]]:
        """The refund's ledger writes (the customer's credit paid out) and ``payment.refunded``: creates,
        replaces, updates, events. A refund beyond the credit (the provider paid it) books no entry."""
        stored = self._ctx.ledger.book().account(
            invoice.customer_id, invoice.legal_entity_id, invoice.currency.value
        )
        owner = (invoice.customer_id, invoice.legal_entity_id, record.currency)
        method = INCOMING[record.provider].value
        events = [payment_refunded_event(record.credit_note_id, owner, record.amount, method, now)]
        try:
            posting = rules.refund_credit(stored.account, record.amount, record.credit_note_id, now)
        except rules.LedgerRuleError:
            logger.warning(
                "refund paid by the provider exceeds the customer's credit; booked without ledger entry",
                extra={"credit_note_id": record.credit_note_id},
            )
            return [], [], [], events
        booked_on = self._ctx.zones.business_date(now, stored.account.legal_entity_id)
        writes = posting_writes(stored, posting, {}, booked_on, now)
        return writes.creates, list(writes.replaces), list(writes.updates), events + list(writes.events)
