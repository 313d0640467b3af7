"""A subscription's billing periods across its phases, and what each period costs. Pure.

A subscription is a list of phases: the offer's campaign for N periods, then the plan's list price or
the plan the offer names after the campaign; a plan with ``next_plan_id`` hands over to that plan when its
term (its binding periods, at least one period) ends. Within a phase, periods follow the plan's period rule
anchored on the phase's anchor (its start unless it continues an earlier anchor) and on the subscription's
billing day, which every phase that starts on it keeps (:func:`chalicelib.periods.billing_day_for`):
a subscription started on 31 January goes on billing on month ends after its campaign ends on 30 April.
A period cut short by the next phase is prorated by days.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from itertools import islice

from chalicelib.billing.lines import Charge
from chalicelib.billing.models import DatePeriod, LineKind
from chalicelib.catalog.models import Component, Offer, Plan, Product, split_price
from chalicelib.catalog.vat import VatCode, VatTable
from chalicelib.money import Money
from chalicelib.periods import Period, PeriodRule, billing_day_for, nominal_period, nth_period, period_index
from chalicelib.subscriptions.models import Phase

MAX_PERIODS = 100_000


@dataclass(frozen=True)
class BillingPeriod:
    """One period to invoice: where it lies, on which plan, and at which price basis."""

    index: int
    phase_index: int
    index_in_phase: int
    period: Period
    nominal: Period
    plan: Plan
    campaign_price: int | None
    quantity: int | None = None

    @property
    def dates(self) -> DatePeriod:
        """The period as stored on invoices."""
        return DatePeriod(start=self.period.start, end=self.period.end)


def rule_for(plan: Plan, anchor: date, billing_day: int | None = None) -> PeriodRule:
    """A plan's period rule anchored on ``anchor``, on ``billing_day`` (None: the anchor's day)."""
    return PeriodRule(plan.period.unit, plan.period.count, anchor, plan.alignment, billing_day)


def phases_for_order(offer: Offer, plan: Plan, start: date) -> list[Phase]:
    """The phases an order starts: the campaign (if any), then what follows it."""
    if offer.campaign is None:
        return [Phase(plan_id=plan.id, start=start, source="order")]
    campaign_end = nth_period(rule_for(plan, start), offer.campaign.periods - 1).end
    following = offer.after_campaign.plan_id if offer.after_campaign else plan.id
    return [
        Phase(
            plan_id=plan.id,
            start=start,
            periods=offer.campaign.periods,
            price=offer.campaign.price,
            source="campaign",
        ),
        Phase(plan_id=following, start=campaign_end, source="after_campaign"),
    ]


def plans_needed(phases: list[Phase], plans: Mapping[str, Plan]) -> set[str]:
    """Plan ids the phases reach (through ``next_plan_id``) that are not in ``plans`` yet."""
    wanted = {phase.plan_id for phase in phases}
    for plan_id in list(wanted):
        seen = set()
        current = plans.get(plan_id)
        while current is not None and current.next_plan_id and current.next_plan_id not in seen:
            seen.add(current.next_plan_id)
            wanted.add(current.next_plan_id)
            current = plans.get(current.next_plan_id)
    return {plan_id for plan_id in wanted if plan_id not in plans}


def billing_periods(phases: list[Phase], plans: Mapping[str, Plan]) -> Iterator[BillingPeriod]:
    """Every billing period of the subscription, in order (endless unless the phases end). Paused phases
    yield nothing; a period cut by a phase boundary is the part inside the phase."""
    queue = list(phases)
    index = 0
    position = 0
    billing_day: int | None = None  # the billing day of the last phase that was not paused
    while position < len(queue):
        phase = queue[position]
        plan = plans[phase.plan_id]
        if phase.paused:
            position += 1
            continue
        billing_day = billing_day_for(phase.period_anchor, billing_day)
        rule = rule_for(plan, phase.period_anchor, billing_day)
        limit = phase.periods
        next_start = queue[position + 1].start if position + 1 < len(queue) else None
        if limit is None and plan.next_plan_id:
            limit = max(plan.binding_periods, 1)
            handover = nth_period(rule, limit - 1).end
            if next_start is None or handover < next_start:
                # The next plan takes over before any later phase (a pause, say) begins. A phase that
                # continues the plan after its term ended (a resume on the old anchor) is on the next plan
                # already: from its own start, anchored on the handover.
                next_start = max(handover, phase.start)
                queue.insert(
                    position + 1,
                    Phase(
                        plan_id=plan.next_plan_id,
                        start=next_start,
                        anchor=handover,
                        quantity=phase.quantity,
                        source="next_plan",
                    ),
                )
        number = period_index(rule, phase.start)
        in_phase = 0
        while limit is None or number < limit:
            period = nth_period(rule, number)
            if next_start is not None and period.start >= next_start:
                break
            nominal = nominal_period(rule, number)
            if period.start < phase.start:
                period = Period(phase.start, period.end)
            if next_start is not None and period.end > next_start:
                period = Period(period.start, next_start)
            yield BillingPeriod(index, position, in_phase, period, nominal, plan, phase.price, phase.quantity)
            index += 1
            in_phase += 1
            number += 1
            if index > MAX_PERIODS:
                return
        position += 1


def period_number(phases: list[Phase], plans: Mapping[str, Plan], index: int) -> BillingPeriod:
    """The ``index``-th billing period (0 is the first)."""
    return next(islice(billing_periods(phases, plans), index, None))


def period_containing_day(phases: list[Phase], plans: Mapping[str, Plan], day: date) -> BillingPeriod | None:
    """The billing period that covers ``day``, or None before the start (or after an end)."""
    for billing_period in billing_periods(phases, plans):
        if billing_period.period.start > day:
            return None
        if billing_period.period.contains(day):
            return billing_period
    return None


def change_anchor(phases: list[Phase], plans: Mapping[str, Plan], effective: date) -> date:
    """The anchor of a phase that switches, from ``effective``, to a plan cutting time the same way.

    A change that starts a whole period (at period end, or before the subscription starts) anchors the new
    plan there: its term and binding count from the change, and :func:`billing_day_for` carries the billing
    day over (30 April stays on the 31st). A change that starts mid-period keeps the anchor of the phase in
    effect, so the billing day holds and the new plan's first period is the prorated rest."""
    current = period_containing_day(phases, plans, effective)
    if current is None or current.nominal.start == effective:
        return effective
    in_effect = [phase for phase in phases if phase.start <= effective and not phase.paused]
    return in_effect[-1].period_anchor if in_effect else effective


def binding_end(phases: list[Phase], plans: Mapping[str, Plan]) -> date | None:
    """The first day after the binding periods of the plan the subscription started on."""
    binding = plans[phases[0].plan_id].binding_periods
    if binding <= 0:
        return None
    return period_number(phases, plans, binding - 1).period.end


def _components_for(billing_period: BillingPeriod) -> list[Component]:
    listed = billing_period.plan.price_on(billing_period.period.start)
    if billing_period.campaign_price is None:
        return listed.components
    return split_price(listed.components, billing_period.campaign_price)


def period_charges(
    billing_period: BillingPeriod,
    products: Mapping[str, Product],
    quantity: int,
    vat_table: VatTable,
    country: str,
    language: str,
) -> list[Charge]:
    """One charge per product of the plan for this period; a shortened period pays its share of days."""
    charges = []
    short = billing_period.period != billing_period.nominal
    for component in _components_for(billing_period):
        product = products[component.product_id]
        unit_price = component.price
        amount = None
        if short:
            # The line is prorated as a whole and rounded once; the unit price shown is one unit's share.
            days, of_days = billing_period.period.days, billing_period.nominal.days
            currency = billing_period.plan.currency
            amount = Money(component.price * quantity, currency).prorate(days, of_days).amount
            unit_price = Money(unit_price, currency).prorate(days, of_days).amount
        code = VatCode(product.vat_rate_code)
        charges.append(
            Charge(
                kind=LineKind.SUBSCRIPTION,
                text=product.name_in(language),
                quantity=quantity,
                unit_price=unit_price,
                vat_code=code.value,
                vat_rate=vat_table.resolve(country, code, billing_period.period.start),
                product_id=product.id,
                period=billing_period.dates,
                amount=amount,
            )
        )
    return charges
