"""Which dunning action is due for an invoice on a business date, and late-payment interest. Pure.

An invoice goes through the plan one step at a time, in the plan's order. A declined card charge is first
retried on the plan's retry days (counted from the failed charge); the plan's steps wait until every retry
has been made. Vipps retries by itself, so its failures go straight to the plan. Steps counted from a
failed charge count from the due date when no charge failed (an invoice paid by giro).

A step that comes late (the run was down, retries took longer) keeps its distance to the step before: it
is due no earlier than the previous step's actual day plus the plan's gap between the two, so a late run
never sends two letters on the same day or cuts a notice's deadline short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise

from chalicelib.dunning.limits import InterestRateTable
from chalicelib.dunning.plans import DunningPlan, DunningStep, StepAnchor
from chalicelib.money import Money, round_half_away
from chalicelib.values import PaymentMethod

DAYS_A_YEAR = 365


@dataclass(frozen=True, slots=True)
class Settlement:
    """Money that lowered what the invoice claims on day ``on``: a payment or a credit note (minor units)."""

    on: date
    amount: int


@dataclass(frozen=True)
class DunningState:
    """What dunning knows of one invoice: its claim, what settled it, and the actions already taken
    (action key → the day it was taken)."""

    invoice_id: str
    due_date: date
    amount: Money
    payment_method: PaymentMethod
    settlements: Sequence[Settlement] = ()
    failed_charge_on: date | None = None
    disputed: bool = False
    done: Mapping[str, date] = field(default_factory=dict)

    def open_amount(self, on: date) -> Money:
        """What is still claimed at the end of day ``on``."""
        settled = sum(s.amount for s in self.settlements if s.on <= on)
        return Money(self.amount.amount - settled, self.amount.currency)


@dataclass(frozen=True, slots=True)
class RetryCharge:
    """Try the declined card again (``attempt`` counts from 1)."""

    key: str
    attempt: int
    due_on: date


@dataclass(frozen=True, slots=True)
class StepDue:
    """Take ``step`` of the plan."""

    key: str
    step: DunningStep
    due_on: date


DunningAction = RetryCharge | StepDue


def step_key(invoice_id: str, step_or_retry: DunningStep | int) -> str:
    """The deterministic key of a step (or of the n-th card retry) for an invoice; also its message key."""
    part = f"retry-{step_or_retry}" if isinstance(step_or_retry, int) else step_or_retry.key
    return f"dunning:{invoice_id}:{part}"


def next_action(plan: DunningPlan, state: DunningState, today: date) -> DunningAction | None:
    """The action due on business date ``today``, or None (paid, credited, disputed, nothing due yet,
    or the plan is finished)."""
    if state.disputed or state.open_amount(today).amount <= 0:
        return None
    last_retry_on: date | None = None
    if state.payment_method is PaymentMethod.CARD and state.failed_charge_on is not None:
        for attempt, days in enumerate(plan.card_retry_days, start=1):
            key = step_key(state.invoice_id, attempt)
            due_on = state.failed_charge_on + timedelta(days=days)
            if key not in state.done:
                return RetryCharge(key, attempt, due_on) if due_on <= today else None
            last_retry_on = state.done[key]
    previous: tuple[date, date] | None = None  # (nominal day, actual day) of the step before
    for step in plan.steps:
        nominal = _nominal_day(step, state)
        if last_retry_on is not None:
            nominal = max(nominal, last_retry_on)
        key = step_key(state.invoice_id, step)
        taken = state.done.get(key)
        if taken is not None:
            previous = (nominal, taken)
            continue
        due_on = nominal
        if previous is not None:
            due_on = max(due_on, previous[1] + (nominal - previous[0]))
        return StepDue(key, step, due_on) if due_on <= today else None
    return None


def _nominal_day(step: DunningStep, state: DunningState) -> date:
    anchor = state.due_date
    if step.after is StepAnchor.FAILED_CHARGE and state.failed_charge_on is not None:
        anchor = max(anchor, state.failed_charge_on)
    return anchor + timedelta(days=step.days)


def late_payment_interest(state: DunningState, until: date, rates: InterestRateTable, country: str) -> Money:
    """Statutory interest on what stayed open after the due date, for each day ``d`` with
    ``due_date < d <= until``: open amount × the rate valid on ``d`` / 365, summed exactly and rounded
    once, half away from zero, to whole minor units. A settlement on day ``d`` stops interest after ``d``.
    Raises :class:`UnknownDunningLimitError` when a day has no known rate."""
    currency = state.amount.currency
    first, end = state.due_date + timedelta(days=1), until + timedelta(days=1)
    if end <= first:
        return Money.zero(currency)
    # The open amount only changes the day after a settlement, so cut the days there.
    changes = {settlement.on + timedelta(days=1) for settlement in state.settlements}
    cuts = sorted({first, end, *(day for day in changes if first < day < end)})
    total = Fraction(0)
    for start, stop in pairwise(cuts):
        principal = state.open_amount(start - timedelta(days=1)).amount
        if principal <= 0:
            continue
        for span in rates.spans(country, start, stop):
            total += Fraction(principal) * span.rate.fraction * (span.end - span.start).days / DAYS_A_YEAR
    return Money(round_half_away(total), currency)
