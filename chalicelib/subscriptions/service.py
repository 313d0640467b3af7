"""Reading subscriptions (with their next invoice's draft) and invoices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from chalicelib.billing.models import DatePeriod, Invoice
from chalicelib.catalog.models import Plan
from chalicelib.catalog.plans import MissingPlanError, load_plan_chain
from chalicelib.catalog.zones import SellerZones
from chalicelib.clock import Clock
from chalicelib.errors import NotFoundError
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore
from chalicelib.subscriptions.models import AgreementStatus, PaymentAgreement, Subscription
from chalicelib.subscriptions.timeline import period_containing_day


def _phase_plan_at(subscription: Subscription, day: date) -> str:
    """The plan of the phase that has started by ``day``."""
    started = [phase for phase in subscription.phases if phase.start <= day]
    return (started[-1] if started else subscription.phases[0]).plan_id


@dataclass(frozen=True)
class SubscriptionWithDraft:
    """A subscription, the plan and period it is in today, and the draft of its next invoice."""

    subscription: Subscription
    plan_id: str
    current_period: DatePeriod
    draft: Invoice | None
    agreement_status: AgreementStatus | None = None


class SubscriptionService:
    """Reads subscriptions and invoices."""

    def __init__(self, store: DocumentStore, clock: Clock, zones: SellerZones | None = None) -> None:
        self._store = store
        self._clock = clock
        self._zones = zones or SellerZones(store)

    def subscription(self, subscription_id: str) -> SubscriptionWithDraft:
        """A subscription with its draft and its payment agreement's state (two reads), or 404."""
        found = self._store.get_document(keys.subscription(subscription_id).pk, "SUB", Subscription)
        if found is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        agreement_key = (keys.agreement(found.agreement_id).pk, "AGREEMENT")
        draft_key = (keys.invoice(found.next_invoice_id).pk, "INVOICE") if found.next_invoice_id else None
        items = self._store.batch_get([agreement_key, *([draft_key] if draft_key else [])])
        draft_item = items.get(draft_key) if draft_key else None
        draft = draft_item.document(Invoice) if draft_item is not None and draft_item.doc else None
        plan_id, current = self.today(found, load_plan_chain(self._store, (p.plan_id for p in found.phases)))
        agreement_item = items.get(agreement_key)
        status = (
            agreement_item.document(PaymentAgreement).status
            if agreement_item is not None and agreement_item.doc
            else None
        )
        return SubscriptionWithDraft(found, plan_id, current, draft, status)

    def agreement_statuses(self, subscriptions: list[Subscription]) -> dict[str, AgreementStatus]:
        """The state of each subscription's payment agreement, by agreement id (one batch read)."""
        items = self._store.batch_get((keys.agreement(s.agreement_id).pk, "AGREEMENT") for s in subscriptions)
        agreements = [item.document(PaymentAgreement) for item in items.values() if item.doc]
        return {agreement.id: agreement.status for agreement in agreements}

    def today(self, subscription: Subscription, plans: Mapping[str, Plan]) -> tuple[str, DatePeriod]:
        """The plan and billing period a subscription is in today (its first period before it starts)."""
        today = self._zones.business_date(self._clock.now(), subscription.legal_entity_id)
        today = max(today, subscription.start_date)
        day = min(today, subscription.invoiced_period.end - timedelta(days=1))
        current = period_containing_day(subscription.phases, plans, day)
        if current is None:
            return subscription.phases[0].plan_id, subscription.invoiced_period
        return current.plan.id, current.dates

    def today_for_all(self, subscriptions: list[Subscription]) -> dict[str, tuple[str, DatePeriod]]:
        """:meth:`today` for a page of subscriptions, reading their plans once. A subscription whose plan
        can no longer be read shows its last invoiced period rather than failing the whole list."""
        try:
            plans = load_plan_chain(self._store, {p.plan_id for s in subscriptions for p in s.phases})
        except MissingPlanError:
            return {
                s.id: (_phase_plan_at(s, s.invoiced_period.start), s.invoiced_period) for s in subscriptions
            }
        return {s.id: self.today(s, plans) for s in subscriptions}

    def invoice(self, invoice_id: str) -> Invoice:
        """An invoice, draft or credit note, or 404."""
        found = self._store.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
        if found is None:
            raise NotFoundError(f"no invoice {invoice_id}")
        return found
