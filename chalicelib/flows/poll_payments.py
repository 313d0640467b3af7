"""Polling the payment providers (every 15 minutes; Vipps asks for webhooks *and* polling): reconcile
pending set-ups (and retry ones the provider never answered), charges due by tomorrow and open refunds,
within a bounded number of provider calls per run.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from itertools import islice

from chalicelib.clock import local_date
from chalicelib.errors import ValidationFailedError
from chalicelib.flows.payment_context import PaymentContext
from chalicelib.flows.reconcile_payment import ReconcilePayment
from chalicelib.flows.refund_credit_note import RefundCreditNote
from chalicelib.flows.set_up_payment import SetUpPayment
from chalicelib.observability import logger
from chalicelib.payments.errors import ProviderRejectedError, ProviderUnavailableError
from chalicelib.payments.reading import held_charge
from chalicelib.payments.records import (
    CHARGE_TO_POLL,
    REFUND_TO_POLL,
    SETUP_TO_POLL,
    ChargeState,
    PaymentSetup,
    RefundRecord,
    SetupState,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem
from chalicelib.store.due import POLL_RUN, due_entries

# Provider calls one polling run makes at most (Vipps: fetch charge 10/min per charge, agreement 120/min).
POLL_BUDGET = 60


@dataclass
class PollReport:
    """What one polling run looked at and changed."""

    setups: int = 0
    charges: int = 0
    refunds: int = 0
    provider_calls: int = 0
    interrupted: str | None = None


class PollPayments:
    """One bounded reconciliation pass over what is open at the providers."""

    def __init__(
        self,
        ctx: PaymentContext,
        set_up: SetUpPayment,
        reconcile: ReconcilePayment,
        refund: RefundCreditNote,
    ) -> None:
        self._ctx = ctx
        self._set_up = set_up
        self._reconcile = reconcile
        self._refund = refund

    def poll(self, budget: int = POLL_BUDGET) -> PollReport:
        """Reconcile pending set-ups (and retry ones the provider never answered), charges due by
        tomorrow and open refunds, making at most ``budget`` provider round trips; a provider that is
        rate-limiting or down ends the run early."""
        report = PollReport()
        today = local_date(self._ctx.clock.now())
        # One query of the due index (set-ups and refunds from the day they opened, charges from the day
        # before they are due), oldest first; then the records themselves, and a charge's invoice (what
        # settling it reads), a BatchGetItem per hundred.
        entries = list(islice(due_entries(POLL_RUN, today), budget))
        if not entries:
            return report
        invoices = [(keys.invoice(e.ident).pk, "INVOICE") for e in entries if e.shard == CHARGE_TO_POLL]
        found = self._ctx.store.batch_get([*((entry.pk, entry.sk) for entry in entries), *invoices])
        try:
            for entry in entries:
                if report.provider_calls >= budget:
                    return report
                item = found.get((entry.pk, entry.sk))
                if item is None or item.doc is None:
                    continue  # no longer open: the index is eventually consistent
                invoice = found.get((keys.invoice(entry.ident).pk, "INVOICE"))
                self._poll_one(entry.shard, item, report, invoice)
        except ProviderUnavailableError as error:
            report.interrupted = str(error)
            logger.warning("payment provider unavailable; polling stops for now")
        return report

    def _poll_one(
        self, kind: int, item: DocumentItem, report: PollReport, invoice: DocumentItem | None
    ) -> None:
        """Reconcile one open set-up, charge (with its invoice as read) or refund (one provider round
        trip)."""
        if kind == SETUP_TO_POLL:
            setup = item.document(PaymentSetup)
            report.provider_calls += 1
            if setup.state == SetupState.NEW:
                with contextlib.suppress(ProviderRejectedError, ValidationFailedError):
                    self._set_up.set_up(setup.order_id)
            else:
                self._reconcile.reconcile_setup(setup.agreement_id)
            report.setups += 1
        elif kind == CHARGE_TO_POLL:
            held = held_charge(item, invoice)
            if held is None or held.record.state != ChargeState.OPEN:
                return
            report.provider_calls += 1
            self._reconcile.reconcile_charge(held.record.invoice_id, held)
            report.charges += 1
        elif kind == REFUND_TO_POLL:
            report.provider_calls += 1
            self._refund.pay_back(item.document(RefundRecord))
            report.refunds += 1
