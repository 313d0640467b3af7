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
from chalicelib.payments.reading import HeldCharge, held_charge
from chalicelib.payments.records import (
    CHARGE_DUE,
    OPEN_SETUP,
    ChargeRecord,
    ChargeState,
    PaymentSetup,
    SetupState,
    charge_item,
    charge_keys,
    setup_keys,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, WriteConflictError
from chalicelib.store.due import CHARGE_RUN, DueEntry, due_entries
from chalicelib.subscriptions.models import Subscription

# Invoices whose reads the charging job batches together: a few round trips for them all, read shortly
# before each is charged (a chunk's provider calls take seconds, not the whole run's minutes).
CHARGE_CHUNK = 25


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
        due = [entry for entry in entries if entry.shard == CHARGE_DUE and entry.day >= since]
        for start in range(0, len(due), CHARGE_CHUNK):
            chunk = due[start : start + CHARGE_CHUNK]
            reads = self._read_chunk([entry.ident for entry in chunk])
            for entry in chunk:
                try:
                    self._charge_one(DocumentItem(entry.pk, entry.sk), entry.ident, reads, report)
                except ProviderUnavailableError as error:
                    report.interrupted = str(error)
                    logger.warning("payment provider unavailable; charging stops for now")
                    return report
        return report

    def _read_chunk(self, invoice_ids: Sequence[str]) -> dict[tuple[str, str], DocumentItem]:
        """What charging these invoices reads, in three round trips for all of them: the invoices and
        their charge records, then their subscriptions, then their agreements' set-ups."""
        found = self._ctx.store.batch_get(
            key for i in invoice_ids for key in (_invoice_key(i), _charge_key(i))
        )
        invoices = [item.document(Invoice) for i in invoice_ids if (item := found.get(_invoice_key(i)))]
        subscriptions = self._ctx.store.batch_get(
            (keys.subscription(i.subscription_id).pk, "SUB") for i in invoices if i.subscription_id
        )
        found |= subscriptions
        agreements = [item.document(Subscription).agreement_id for item in subscriptions.values() if item.doc]
        found |= self._ctx.store.batch_get((setup_keys(a).pk, "SETUP") for a in agreements if a)
        return found

    def _charge_one(
        self,
        entry: DocumentItem,
        invoice_id: str,
        reads: dict[tuple[str, str], DocumentItem],
        report: ChargingReport,
    ) -> None:
        invoice_item = reads.get(_invoice_key(invoice_id))
        invoice = invoice_item.document(Invoice) if invoice_item and invoice_item.doc else None
        if (
            invoice is None
            or invoice.kind != InvoiceKind.INVOICE
            or invoice.status != InvoiceStatus.ISSUED
            or invoice.open_amount <= 0
        ):
            self._provider.unindex(entry)
            report.skipped += 1
            return
        sub_item = (
            reads.get((keys.subscription(invoice.subscription_id).pk, "SUB"))
            if invoice.subscription_id
            else None
        )
        subscription = sub_item.document(Subscription) if sub_item and sub_item.doc else None
        setup_item = reads.get((setup_keys(subscription.agreement_id).pk, "SETUP")) if subscription else None
        setup = setup_item.document(PaymentSetup) if setup_item and setup_item.doc else None
        if setup is None or setup.method != invoice.payment_method:
            self._provider.unindex(entry)
            report.skipped += 1
            return
        if setup.state in OPEN_SETUP:
            report.waiting.append(invoice_id)  # charged once the agreement is active (within the lookback)
            return
        if setup.state != SetupState.ACTIVE or setup.provider_reference is None:
            self._notices.stopped(setup, invoice_id, only_if_open=False)
            self._provider.unindex(entry)
            report.no_agreement.append(invoice_id)
            return
        held = self._mark_charge(invoice, setup, held_charge(reads.get(_charge_key(invoice_id))))
        if held is None or held.record.state != ChargeState.CREATING:
            self._provider.unindex(entry)
            report.skipped += 1
            return
        charge = invoice_charge(invoice)
        held = HeldCharge(held.record, held.version, invoice_item)
        if self._provider.charge(setup.method, setup.provider_reference, charge, entry, held):
            report.charged.append(invoice_id)
        else:
            report.failed.append(invoice_id)

    def _mark_charge(
        self, invoice: Invoice, setup: PaymentSetup, stored: HeldCharge | None
    ) -> HeldCharge | None:
        """The invoice's charge record (``stored``: as read), created (state ``creating``) before the
        provider is called."""
        if stored is not None:
            return stored
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
        item = charge_item(record)
        try:
            self._ctx.store.put_new(item)
        except WriteConflictError:
            again = self._records.charge(invoice.id)
            return HeldCharge(*again) if again else None
        return HeldCharge(record, int(item.version))


def _invoice_key(invoice_id: str) -> tuple[str, str]:
    return keys.invoice(invoice_id).pk, "INVOICE"


def _charge_key(invoice_id: str) -> tuple[str, str]:
    return charge_keys(invoice_id).pk, "CHARGE"
