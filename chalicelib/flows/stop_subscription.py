"""The flow that stops a subscription, at the end of its current period (the default) or now.

"Now" at any moment of local day D takes effect at the end of D (a day started is used). The stop is a
change (see :mod:`chalicelib.flows.restatements`): one transaction sets the status, the end date, the
access end and the planned credits, removes the draft; the credit notes and any invoice follow, each
idempotent, so a stop that dies half-way is finished by the next call:

* a period invoiced but starting on or after the end is credited in full;
* the period in progress, under ``by_days`` proration, is credited for its unused days on a paid invoice
  (the customer's credit); an unpaid invoice is credited in full and the used days invoiced again; under
  ``none`` and ``whole_period`` a started period is kept;
* on a plan with usage prices, the usage not invoiced yet goes on a final invoice, issued by the invoice
  run on the end date (see :mod:`chalicelib.billing.usage`).

A stop before the end of a binding period is refused, or (``early_stop: charge``) allowed with the
periods left of the binding invoiced at once and no credit for the period in progress.
"""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.billing.models import InvoiceLine
from chalicelib.billing.restatement import Straddle, new_terms_lines
from chalicelib.billing.usage import final_invoice_day
from chalicelib.catalog.models import EarlyStop, Plan, Proration
from chalicelib.errors import ConflictError
from chalicelib.flows.restatements import Loaded, Restatements, phases_before
from chalicelib.subscriptions.events import subscription_stopped
from chalicelib.subscriptions.models import StopWhen, Subscription, SubscriptionStatus
from chalicelib.subscriptions.timeline import billing_periods, period_containing_day


class StopSubscription:
    """Stops subscriptions and credits what the customer will not use."""

    def __init__(self, restatements: Restatements) -> None:
        self._restatements = restatements

    def stop(self, subscription_id: str, when: StopWhen, reason: str | None) -> Subscription:
        """Stop the subscription and credit unused invoiced time; calling it again finishes a stop."""
        loaded = self._restatements.load(subscription_id)
        subscription = loaded.subscription
        if subscription.status in (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED):
            if subscription.ends_on is None:
                raise ConflictError("the subscription has ended")
            # A retry: the stop's event was recorded with it, and loading finished any restatement.
            return subscription
        today = self._restatements.today(loaded)
        ends_on = self._end(subscription, loaded.plans, when, today)
        charged = self._check_binding(subscription, loaded.plans, ends_on)
        straddle = Straddle.PRORATE
        current = period_containing_day(subscription.phases, loaded.plans, ends_on - timedelta(days=1))
        if charged or (current is not None and current.plan.proration != Proration.BY_DAYS):
            straddle = Straddle.KEEP
        extra = self._binding_lines(loaded, subscription.binding_end) if charged else []
        planned = self._restatements.plan_restatement(
            loaded,
            phases_before(subscription.phases, ends_on),
            ends_on,
            straddle,
            charge_from=date.max,  # nothing after the end is charged again
            extra_lines=extra,
        )
        stopped = subscription.model_copy(
            update={
                "status": SubscriptionStatus.STOPPED,
                "ends_on": ends_on,
                "stop_reason": reason,
                # the usage of its last period(s) goes on a final invoice, issued when it has ended
                "final_invoice_on": final_invoice_day(ends_on, loaded.plans.values(), today),
            }
        )
        return self._restatements.commit(
            loaded,
            stopped,
            planned,
            events=[subscription_stopped(stopped, self._restatements.now())],
            access_until=ends_on,
            access_reason="stop",
        )

    @staticmethod
    def _end(subscription: Subscription, plans: dict[str, Plan], when: StopWhen, today: date) -> date:
        if today < subscription.start_date:
            return subscription.start_date  # nothing has been used yet
        if when == StopWhen.NOW:
            return today + timedelta(days=1)
        current = period_containing_day(subscription.phases, plans, today)
        return current.period.end if current else today + timedelta(days=1)

    @staticmethod
    def _check_binding(subscription: Subscription, plans: dict[str, Plan], ends_on: date) -> bool:
        """Whether the stop breaks the binding and is charged for it (refused when the plan says so)."""
        if subscription.binding_end is None or ends_on >= subscription.binding_end:
            return False
        plan = plans[subscription.phases[0].plan_id]
        if plan.early_stop == EarlyStop.REFUSE:
            raise ConflictError(f"the subscription is bound until {subscription.binding_end.isoformat()}")
        return True

    @staticmethod
    def _binding_lines(loaded: Loaded, binding_end: date | None) -> list[InvoiceLine]:
        """The periods of the binding not invoiced yet, charged at the terms they would have had."""
        subscription = loaded.subscription
        if binding_end is None:
            return []
        left = []
        for billing_period in billing_periods(subscription.phases, loaded.plans):
            if billing_period.period.start >= binding_end:
                break
            if billing_period.period.start >= subscription.invoiced_period.end:
                left.append(billing_period)
        lines = new_terms_lines(loaded.seller, subscription, left, loaded.products)
        return [
            line.model_copy(update={"text": f"{line.text} (binding period, early stop)"}) for line in lines
        ]
