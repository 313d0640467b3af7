"""Reading subscriptions (with their next invoice's draft) and invoices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from chalicelib.billing.models import DatePeriod, Invoice
from chalicelib.catalog.models import Plan
from chalicelib.catalog.plans import MissingPlanError, load_plan_chain
from chalicelib.clock import Clock, local_date
from chalicelib.errors import NotFoundError
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore
from chalicelib.subscriptions.models import Subscription
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


class SubscriptionService:
    """Reads subscriptions and invoices."""

    def __init__(self, store: DocumentStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def subscription(self, subscription_id: str) -> SubscriptionWithDraft:
        """A subscription with its draft (one read each), or 404."""
        found = self._store.get_document(keys.subscription(subscription_id).pk, "SUB", Subscription)
        if found is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        draft = (
            self._store.get_document(keys.invoice(found.next_invoice_id).pk, "INVOICE", Invoice)
            if found.next_invoice_id
            else None
        )
        plan_id, current = self.today(found, load_plan_chain(self._store, (p.plan_id for p in found.phases)))
        return SubscriptionWithDraft(found, plan_id, current, draft)

    def today(self, subscription: Subscription, plans: Mapping[str, Plan]) -> tuple[str, DatePeriod]:
        """The plan and billing period a subscription is in today (its first period before it starts)."""
        today = max(local_date(self._clock.now()), subscription.start_date)
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
