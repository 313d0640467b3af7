"""Stopping a subscription, at the end of its current period (the default) or now.

"Now" at any moment of local day D takes effect at the end of D (a day started is used). The stop itself
(status, end date, no more renewals, the draft voided, access ending) is one transaction; the credit
notes follow, each idempotent by an id derived from the invoice it credits, so a stop that dies half-way
is finished by calling it again:

* a period invoiced but starting on or after the end is credited in full;
* the period in progress, under ``by_days`` proration, is credited for its unused days: on a paid
  invoice that becomes the customer's credit, on an unpaid one only the used days stay owed; under
  ``none`` and ``whole_period`` a started period is kept.

A stop before the end of a binding period is refused when the plan says so.
"""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.billing.credit_notes import CreditNotes
from chalicelib.billing.drafting import subscription_invoice_id
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.billing.proration import unused_credit_lines
from chalicelib.catalog.models import EarlyStop, Plan, Proration
from chalicelib.catalog.plans import load_plan_chain
from chalicelib.clock import Clock, local_date
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore
from chalicelib.subscriptions.access import AccessService
from chalicelib.subscriptions.models import StopWhen, Subscription, SubscriptionStatus
from chalicelib.subscriptions.timeline import billing_periods, period_containing_day
from chalicelib.subscriptions.writes import subscription_item


class StopService:
    """Stops subscriptions and credits what the customer will not use."""

    def __init__(
        self, store: DocumentStore, credit_notes: CreditNotes, access: AccessService, clock: Clock
    ) -> None:
        self._store = store
        self._credit_notes = credit_notes
        self._access = access
        self._clock = clock

    def stop(self, subscription_id: str, when: StopWhen, reason: str | None) -> Subscription:
        """Stop the subscription and credit unused invoiced time; calling it again finishes a stop."""
        item = self._store.get(keys.subscription(subscription_id).pk, "SUB")
        if item is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        subscription = item.document(Subscription)
        plans = load_plan_chain(self._store, (phase.plan_id for phase in subscription.phases))
        if subscription.status in (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED):
            if subscription.ends_on is None:
                raise ConflictError("the subscription has ended")
            self._credit(subscription)
            return subscription
        today = local_date(self._clock.now())
        ends_on = self._end(subscription, plans, when, today)
        self._check_binding(subscription, plans, ends_on)
        stopped = subscription.model_copy(
            update={
                "status": SubscriptionStatus.STOPPED,
                "ends_on": ends_on,
                "stop_reason": reason,
                "next_invoice_id": None,
                "next_invoice_date": None,
            }
        )
        version = int(item.version)
        replaces: list[tuple[DocumentItem, int]] = [(subscription_item(stopped, version), version)]
        replaces += self._access.revoke_writes(
            subscription.customer_id, subscription.product_ids, subscription.id, until=ends_on
        )
        deletes = []
        if subscription.next_invoice_id:
            draft = self._store.get(keys.invoice(subscription.next_invoice_id).pk, "INVOICE")
            if draft is not None and draft.status == InvoiceStatus.DRAFT:
                deletes.append(draft)
        self._store.write([], replaces, deletes=deletes)
        self._credit(stopped)
        return stopped

    @staticmethod
    def _end(subscription: Subscription, plans: dict[str, Plan], when: StopWhen, today: date) -> date:
        if today < subscription.start_date:
            return subscription.start_date  # nothing has been used yet
        if when == StopWhen.NOW:
            return today + timedelta(days=1)
        current = period_containing_day(subscription.phases, plans, today)
        return current.period.end if current else today + timedelta(days=1)

    @staticmethod
    def _check_binding(subscription: Subscription, plans: dict[str, Plan], ends_on: date) -> None:
        if subscription.binding_end is None or ends_on >= subscription.binding_end:
            return
        plan = plans[subscription.phases[0].plan_id]
        if plan.early_stop == EarlyStop.REFUSE:
            raise ConflictError(f"the subscription is bound until {subscription.binding_end.isoformat()}")
        raise ConflictError(
            f"the subscription is bound until {subscription.binding_end.isoformat()}; charging an early stop "
            "is not available yet: stop at the binding end"
        )

    def _credit(self, subscription: Subscription) -> None:
        ends_on = subscription.ends_on
        assert ends_on is not None
        plans = load_plan_chain(self._store, (phase.plan_id for phase in subscription.phases))
        for billing_period in billing_periods(subscription.phases, plans):
            if billing_period.period.start >= subscription.invoiced_period.end:
                return
            if billing_period.period.end <= ends_on:
                continue
            invoice_id = subscription_invoice_id(subscription.id, billing_period.period.start)
            invoice = self._store.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
            if invoice is None or invoice.status not in (InvoiceStatus.ISSUED, InvoiceStatus.PAID):
                continue
            credit_note_id = f"crn_stop_{invoice_id.removeprefix('inv_')}"
            if billing_period.period.start >= ends_on:
                self._credit_notes.issue(invoice_id, None, credit_note_id=credit_note_id)
            elif billing_period.plan.proration == Proration.BY_DAYS:
                lines = unused_credit_lines(invoice, ends_on - timedelta(days=1))
                if lines:
                    self._credit_notes.issue(invoice_id, None, lines=lines, credit_note_id=credit_note_id)
