"""The flow that changes a subscription's plan and/or quantity, now or at the end of the current period,
restating what was invoiced already (see :mod:`chalicelib.flows.restatements`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from chalicelib.billing.restatement import Straddle
from chalicelib.catalog.models import Plan, Proration
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.flows.restatements import Loaded, Restatements, continuation, invalid, phases_before
from chalicelib.subscriptions import events as subscription_events
from chalicelib.subscriptions.models import Phase, StopWhen, Subscription, SubscriptionStatus
from chalicelib.subscriptions.timeline import BillingPeriod, change_anchor, period_containing_day


@dataclass(frozen=True)
class _Target:
    """What the change asks for, checked against the subscription's current period."""

    current: BillingPeriod
    current_quantity: int
    new_plan: Plan | None  # None: the quantity only
    quantity: int | None

    @property
    def plan(self) -> Plan:
        """The plan in effect after the change."""
        return self.new_plan or self.current.plan

    @property
    def same_plan(self) -> bool:
        """Whether the plan stays (only the quantity changes)."""
        return self.new_plan is None or self.new_plan.id == self.current.plan.id


class ChangeSubscription:
    """Plan and quantity changes."""

    def __init__(self, restatements: Restatements) -> None:
        self._restatements = restatements

    def change(
        self, subscription_id: str, plan_id: str | None, quantity: int | None, when: StopWhen
    ) -> Subscription:
        """Switch plan and/or quantity now or at the end of the current period."""
        if plan_id is None and quantity is None:
            raise invalid("plan_id", "name a plan_id, a quantity or both", "missing")
        loaded = self._restatements.load(subscription_id, [plan_id] if plan_id else [])
        subscription = loaded.subscription
        if subscription.status != SubscriptionStatus.ACTIVE:
            raise ConflictError(f"a subscription that is {subscription.status.value} cannot be changed")
        today = self._restatements.today(loaded)
        target = self._target(loaded, plan_id, quantity, today)
        effective, straddle = _effective(subscription, target.current, when, today)
        target_quantity = quantity or target.current_quantity
        if _already_changed(subscription, effective, target.plan.id, target_quantity):
            # A retry of a change that was made: its event was recorded with it, nothing more to do.
            return subscription
        new_phases = [*phases_before(subscription.phases, effective), *_following(loaded, target, effective)]
        charge_from = target.current.period.end if straddle == Straddle.KEEP else effective
        planned = self._restatements.plan_restatement(
            loaded, new_phases, effective, straddle, charge_from=charge_from
        )
        updated = subscription.model_copy(
            update={
                "phases": new_phases,
                "quantity": quantity or subscription.quantity,
                "product_ids": list(target.plan.product_ids)
                if effective <= today + timedelta(days=1)
                else subscription.product_ids,
            }
        )
        dropped = [p for p in subscription.product_ids if p not in updated.product_ids]
        event = subscription_events.subscription_changed(
            subscription,
            effective,
            target.plan.id,
            target_quantity,
            (target.current.plan.id, target.current_quantity),
            self._restatements.now(),
        )
        return self._restatements.commit(
            loaded,
            updated,
            planned,
            events=[event],
            access_until=effective if dropped else None,
            revoke_products=dropped,
        )

    @staticmethod
    def _target(loaded: Loaded, plan_id: str | None, quantity: int | None, today: date) -> _Target:
        """The change asked for, refused if it names an unknown or unfit plan or changes nothing."""
        subscription = loaded.subscription
        current = period_containing_day(
            subscription.phases, loaded.plans, max(today, subscription.start_date)
        )
        if current is None:
            raise ConflictError("the subscription has no current period to change (paused or ended)")
        new_plan = loaded.plans.get(plan_id) if plan_id else None
        if plan_id and new_plan is None:
            raise NotFoundError(f"no plan {plan_id}")
        if new_plan is not None:
            _check_plan(current.plan, new_plan, subscription)
        target = _Target(current, current.quantity or subscription.quantity, new_plan, quantity)
        if target.same_plan and quantity in (None, target.current_quantity):
            raise invalid("plan_id", "that is the subscription's plan and quantity already", "unchanged")
        return target


def same_periods(a: Plan, b: Plan) -> bool:
    """Whether two plans cut time the same way (a change between them keeps the billing day)."""
    return a.period == b.period and a.alignment == b.alignment


def _following(loaded: Loaded, target: _Target, effective: date) -> list[Phase]:
    """The phases from the effective date on: the same plan continued with the new quantity, or the new
    plan (on the old billing day when both plans cut time the same way)."""
    subscription = loaded.subscription
    if target.new_plan is None or target.same_plan:
        return continuation(subscription.phases, effective, "change", target.quantity)
    keeps_day = same_periods(target.current.plan, target.new_plan)
    return [
        Phase(
            plan_id=target.new_plan.id,
            start=effective,
            anchor=change_anchor(subscription.phases, loaded.plans, effective) if keeps_day else effective,
            quantity=target.quantity or target.current_quantity,
            source="change",
        )
    ]


def _check_plan(current: Plan, new_plan: Plan, subscription: Subscription) -> None:
    if new_plan.currency != current.currency or new_plan.legal_entity_id != subscription.legal_entity_id:
        raise invalid(
            "plan_id",
            "the new plan must have the same seller and currency as the subscription",
            "mismatch",
        )


def _effective(
    subscription: Subscription, current: BillingPeriod, when: StopWhen, today: date
) -> tuple[date, Straddle]:
    """The change's effective date, and whether the period it falls in is prorated or kept."""
    if today < subscription.start_date:
        return subscription.start_date, Straddle.PRORATE
    if when == StopWhen.PERIOD_END:
        return current.period.end, Straddle.PRORATE
    proration = current.plan.proration
    if proration == Proration.WHOLE_PERIOD:
        return current.period.start, Straddle.PRORATE
    if proration == Proration.NONE:
        return today + timedelta(days=1), Straddle.KEEP
    return today + timedelta(days=1), Straddle.PRORATE


def _already_changed(subscription: Subscription, effective: date, plan_id: str, quantity: int) -> bool:
    """Whether a change to ``plan_id`` × ``quantity`` from ``effective`` is what the phases say already."""
    started = [p for p in subscription.phases if p.start <= effective and not p.paused]
    if not started:
        return False
    phase = started[-1]
    return (
        phase.source == "change"
        and phase.start == effective
        and phase.plan_id == plan_id
        and (phase.quantity or subscription.quantity) == quantity
    )
