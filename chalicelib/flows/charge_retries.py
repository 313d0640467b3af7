"""Dunning's card retries: charge a declined card again on the retry days dunning lists
(:class:`~chalicelib.dunning.steps.CardRetryRequest`), each request exactly once, for the invoice's open
amount then. The charging job runs them after the first charges (``functions/payment_charging.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from chalicelib.billing.models import Invoice
from chalicelib.clock import local_date
from chalicelib.dunning.steps import CardRetryRequest, retry_request_keys
from chalicelib.flows.payment_context import (
    ATTEMPTS,
    CHARGE_LOOKBACK_DAYS,
    PAID_STATES,
    PaymentContext,
    chargeable,
)
from chalicelib.flows.payment_notices import PaymentNotices
from chalicelib.flows.provider_charge import ProviderCharge
from chalicelib.flows.reconcile_payment import ReconcilePayment
from chalicelib.money import Currency, Money
from chalicelib.observability import logger
from chalicelib.payments.errors import ProviderRejectedError, ProviderUnavailableError
from chalicelib.payments.interface import ChargeStatus, InvoiceCharge
from chalicelib.payments.records import (
    OPEN_CHARGE,
    RETRY_DUE,
    RETRY_TO_RESUME,
    ChargeRecord,
    ChargeState,
    SetupState,
    charge_item,
)
from chalicelib.store.documents import DocumentItem, WriteConflictError, document_item
from chalicelib.store.due import CHARGE_RUN, DueEntry, due_entries
from chalicelib.values import PaymentMethod


@dataclass
class RetryReport:
    """What one pass over dunning's card retry requests did."""

    charged: list[str] = field(default_factory=list)  # charged again (the outcome is on the charge record)
    resumed: list[str] = field(default_factory=list)  # attempts an earlier run left before the provider call
    no_agreement: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # an earlier charge still open: the next run looks again
    skipped: int = 0  # invoice closed meanwhile, not a card charge, or a later attempt made already
    failed: list[str] = field(default_factory=list)  # the provider refused the request
    interrupted: str | None = None


class RetryCardCharges:
    """Charges declined cards again on dunning's retry days."""

    def __init__(
        self,
        ctx: PaymentContext,
        notices: PaymentNotices,
        reconcile: ReconcilePayment,
        provider: ProviderCharge,
    ) -> None:
        self._ctx = ctx
        self._records = ctx.records
        self._notices = notices
        self._reconcile = reconcile
        self._provider = provider

    def charge_retries(self, today: date | None = None) -> RetryReport:
        """Charge declined cards again on dunning's retry days: every retry request listed for ``today``
        (a week back included), each exactly once, for the invoice's open amount then; stops early while
        the provider is unavailable.

        A request is handled by one transaction that moves the invoice's charge record from ``failed`` to
        ``creating`` for the request's attempt (conditional on the record's and the request's versions)
        and takes the request off its list with its outcome; the provider call follows, keyed by invoice
        and attempt. An attempt a crash left in ``creating`` is finished by the next run, with the same
        key. A request whose invoice is paid, credited or void, or whose agreement ended (the customer is
        told), is taken off without a charge."""
        today = today or local_date(self._ctx.clock.now())
        return self.retry_entries(list(due_entries(CHARGE_RUN, today)), today)

    def retry_entries(self, entries: Sequence[DueEntry], today: date) -> RetryReport:
        """The retry requests among the charging job's due ``entries`` (attempts left unsent first)."""
        report = RetryReport()
        since = today - timedelta(days=CHARGE_LOOKBACK_DAYS)
        try:
            for due in entries:
                if due.shard == RETRY_TO_RESUME:
                    self._resume_retry(due.ident, report)
            for due in entries:
                if due.shard == RETRY_DUE and due.day >= since:
                    self._retry_one(DocumentItem(due.pk, due.sk), report)
        except ProviderUnavailableError as error:
            report.interrupted = str(error)
            logger.warning("payment provider unavailable; card retries stop for now")
        return report

    def _resume_retry(self, invoice_id: str, report: RetryReport) -> None:
        """Finish a retry an earlier run marked (``creating``) but may not have sent: the same idempotency
        key makes a charge the provider already has the same charge."""
        found = self._records.charge(invoice_id)
        if found is None or found[0].state != ChargeState.CREATING:
            return
        record, version = found
        if record.attempt == 0 or record.method != PaymentMethod.CARD:
            return  # a first charge is finished by charge_due from its index entry
        invoice = self._ctx.invoice(record.invoice_id)
        if not chargeable(invoice):
            # Paid another way meanwhile: charging now could take the money twice.
            logger.warning(
                "card retry not resumed: the invoice is no longer open",
                extra={"invoice_id": record.invoice_id, "attempt": record.attempt},
            )
            dropped = record.model_copy(
                update={
                    "state": ChargeState.CANCELLED,
                    "provider_status": "not_resumed",
                    "updated_at": self._ctx.clock.now(),
                }
            )
            with contextlib.suppress(WriteConflictError):
                self._ctx.store.write([], [(charge_item(dropped, version), version)])
            return
        assert invoice is not None
        self._provider.charge(record.method, record.agreement_ref, self._retry_charge(record, invoice), None)
        report.resumed.append(record.invoice_id)

    def _retry_one(self, entry: DocumentItem, report: RetryReport) -> None:
        for _ in range(ATTEMPTS):
            item = self._ctx.store.get(entry.pk, entry.sk)
            if item is None or item.doc is None or item.gsi1pk is None:
                return  # handled meanwhile (another run)
            request = item.document(CardRetryRequest)
            invoice = self._ctx.invoice(request.invoice_id)
            found = self._records.charge(request.invoice_id)
            outcome = _retry_outcome(request, invoice, found[0] if found else None)
            if outcome == "waiting":
                report.waiting.append(request.invoice_id)  # the run of another day looks again
                return
            if outcome is not None:
                if self._request_handled(item, outcome):
                    report.skipped += 1
                    return
                continue
            assert invoice is not None and found is not None
            record, version = found
            setup = self._records.setup(record.agreement_id)
            if setup is None or setup[0].state != SetupState.ACTIVE or setup[0].provider_reference is None:
                if setup is not None and setup[0].state in (SetupState.STOPPED, SetupState.EXPIRED):
                    self._notices.stopped(setup[0], invoice.id, only_if_open=True)
                if self._request_handled(item, "no_agreement"):
                    report.no_agreement.append(invoice.id)
                    return
                continue
            if self._previous_paid(record):
                continue  # the customer paid the earlier attempt on session: the invoice is closed now
            now = self._ctx.clock.now()
            charging = record.model_copy(
                update={
                    "state": ChargeState.CREATING,
                    "attempt": request.attempt,
                    "amount": invoice.open_amount,
                    "charge_ref": None,
                    "failure_reason": None,
                    "decline_code": None,
                    "customer_action_url": None,
                    "provider_status": None,
                    "updated_at": now,
                }
            )
            try:
                self._ctx.store.write(
                    [],
                    [(charge_item(charging, version), version), self._handled_write(item, "attempted", now)],
                )
            except WriteConflictError:
                continue
            charge = self._retry_charge(charging, invoice)
            if self._provider.charge(record.method, record.agreement_ref, charge, None):
                report.charged.append(invoice.id)
            else:
                report.failed.append(invoice.id)
            return

    def _previous_paid(self, record: ChargeRecord) -> bool:
        """Before a new attempt, the previous one's charge (a PaymentIntent the customer may still pay on
        session through the link we sent) is withdrawn, so that the invoice cannot be paid twice; if the
        customer paid it meanwhile, that payment is applied instead (True)."""
        if record.charge_ref is None:
            return False
        adapter = self._ctx.adapter(record.method)
        previous = adapter.charge_status(record.agreement_ref, record.charge_ref)
        if previous.status in (ChargeStatus.FAILED, ChargeStatus.PENDING):
            try:
                previous = adapter.cancel_charge(record.agreement_ref, record.charge_ref)
            except ProviderRejectedError:  # taken meanwhile: Stripe cancels no paid intent
                previous = adapter.charge_status(record.agreement_ref, record.charge_ref)
        if previous.status in PAID_STATES:
            self._reconcile.apply_charge(record.invoice_id, previous)
            return True
        return False

    @staticmethod
    def _retry_charge(record: ChargeRecord, invoice: Invoice) -> InvoiceCharge:
        return InvoiceCharge(
            invoice_id=record.invoice_id,
            amount=Money(record.amount, Currency(record.currency)),
            description=f"Faktura {invoice.number}",
            due=record.due_date,
            attempt=record.attempt,
        )

    def _handled_write(self, item: DocumentItem, outcome: str, now: datetime) -> tuple[DocumentItem, int]:
        """The retry request, kept with its outcome and off the day's list, at its read version."""
        request = item.document(CardRetryRequest)
        version = int(item.version)
        handled = request.model_copy(update={"outcome": outcome, "handled_at": now})
        keys_ = retry_request_keys(request.invoice_id, request.attempt)
        return document_item("card_retry", keys_, handled, version=version), version

    def _request_handled(self, item: DocumentItem, outcome: str) -> bool:
        """Take a request off its list without a charge; False when it changed meanwhile."""
        try:
            self._ctx.store.write([], [self._handled_write(item, outcome, self._ctx.clock.now())])
        except WriteConflictError:
            return False
        logger.info("card retry request handled", extra={"key": item.pk, "outcome": outcome})
        return True


def _retry_outcome(
    request: CardRetryRequest, invoice: Invoice | None, record: ChargeRecord | None
) -> str | None:
    """Why a card retry request is not charged (its outcome), ``waiting`` while the invoice's earlier
    charge is still open, or None: charge it."""
    if not chargeable(invoice):
        return "invoice_closed"
    if record is None or record.method != PaymentMethod.CARD:
        return "not_card"
    if record.attempt >= request.attempt or record.state in (ChargeState.PAID, ChargeState.CANCELLED):
        return "superseded"
    if record.state in OPEN_CHARGE:
        return "waiting"
    return None
