"""Charging due invoices by card or Vipps (the daily charging job): create the provider charge of every
indexed invoice whose charge date has come (Vipps two days before the due date, cards on it, a week back
included), each exactly once, then dunning's card retries due that day
(:mod:`chalicelib.flows.charge_retries`).
An invoice whose agreement ended is not charged: the customer is asked to pay it another way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.clock import local_date
from chalicelib.flows.charge_retries import RetryCardCharges, RetryReport
from chalicelib.flows.payment_context import CHARGE_LOOKBACK_DAYS, PaymentContext, invoice_charge
from chalicelib.flows.payment_notices import PaymentNotices
from chalicelib.flows.provider_charge import ProviderCharge
from chalicelib.observability import logger
from chalicelib.payments.errors import ProviderUnavailableError
from chalicelib.payments.records import (
    CHARGE_DUE,
    OPEN_SETUP,
    ChargeRecord,
    ChargeState,
    PaymentSetup,
    SetupState,
    charge_item,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, WriteConflictError
from chalicelib.store.due import CHARGE_RUN, DueEntry, due_entries
from chalicelib.subscriptions.models import Subscription


@dataclass
class ChargingReport:
    """What one run of the charging job did."""

    charged: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    no_agreement: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    interrupted: str | None = None


class ChargeDueInvoices:
    """The charging job: first charges of due invoices, then dunning's card retries."""

    def __init__(
        self,
        ctx: PaymentContext,
        notices: PaymentNotices,
        provider: ProviderCharge,
        retries: RetryCardCharges,
    ) -> None:
        self._ctx = ctx
        self._records = ctx.records
        self._notices = notices
        self._provider = provider
        self._retries = retries

    def charge_all_due(self, today: date) -> tuple[ChargingReport, RetryReport]:
        """The charging job: one read of its due entries, then the first charges, then dunning's card
        retries (an empty day costs that one query)."""
        entries = list(due_entries(CHARGE_RUN, today))
        return self._charge_entries(entries, today), self._retries.retry_entries(entries, today)

    def charge_due(self, today: date | None = None) -> ChargingReport:
        """Create the provider charge of every indexed invoice whose charge date has come (a week back
        included), each exactly once; stops early while the provider is unavailable."""
        today = today or local_date(self._ctx.clock.now())
        return self._charge_entries(list(due_entries(CHARGE_RUN, today)), today)

    def _charge_entries(self, entries: Sequence[DueEntry], today: date) -> ChargingReport:
        report = ChargingReport()
        since = today - timedelta(days=CHARGE_LOOKBACK_DAYS)
        for due in entries:
            if due.shard != CHARGE_DUE or due.day < since:
                continue
            try:
                self._charge_one(DocumentItem(due.pk, due.sk), due.ident, report)
            except ProviderUnavailableError as error:
                report.interrupted = str(error)
                logger.warning("payment provider unavailable; charging stops for now")
                return report
        return report

    def _charge_one(self, entry: DocumentItem, invoice_id: str, report: ChargingReport) -> None:
        invoice = self._ctx.invoice(invoice_id)
        if (
            invoice is None
            or invoice.kind != InvoiceKind.INVOICE
            or invoice.status != InvoiceStatus.ISSUED
            or invoice.open_amount <= 0
        ):
            self._provider.unindex(entry)
            report.skipped += 1
            return
        subscription = (
            self._ctx.store.get_document(keys.subscription(invoice.subscription_id).pk, "SUB", Subscription)
            if invoice.subscription_id
            else None
        )
        found = self._records.setup(subscription.agreement_id) if subscription is not None else None
        if found is None or found[0].method != invoice.payment_method:
            self._provider.unindex(entry)
            report.skipped += 1
            return
        setup = found[0]
        if setup.state in OPEN_SETUP:
            report.waiting.append(invoice_id)  # charged once the agreement is active (within the lookback)
            return
        if setup.state != SetupState.ACTIVE or setup.provider_reference is None:
            self._notices.stopped(setup, invoice_id, only_if_open=False)
            self._provider.unindex(entry)
            report.no_agreement.append(invoice_id)
            return
        record = self._mark_charge(invoice, setup)
        if record is None or record.state != ChargeState.CREATING:
            self._provider.unindex(entry)
            report.skipped += 1
            return
        charge = invoice_charge(invoice)
        if self._provider.charge(setup.method, setup.provider_reference, charge, entry):
            report.charged.append(invoice_id)
        else:
            report.failed.append(invoice_id)

    def _mark_charge(self, invoice: Invoice, setup: PaymentSetup) -> ChargeRecord | None:
        """The invoice's charge record, created (state ``creating``) before the provider is called."""
        found = self._records.charge(invoice.id)
        if found is not None:
            return found[0]
        assert setup.provider_reference is not None
        now = self._ctx.clock.now()
        record = ChargeRecord(
            invoice_id=invoice.id,
            agreement_id=setup.agreement_id,
            method=setup.method,
            provider=setup.provider,
            agreement_ref=setup.provider_reference,
            state=ChargeState.CREATING,
            amount=invoice.open_amount,
            currency=invoice.currency.value,
            due_date=invoice.due_date,
            created_at=now,
            updated_at=now,
        )
        try:
            self._ctx.store.put_new(charge_item(record))
        except WriteConflictError:
            again = self._records.charge(invoice.id)
            return again[0] if again else None
        return record
