"""Which dunning action is due for an invoice on a business date, and late-payment interest."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.dunning.limits import DEFAULT_INTEREST_RATES, UnknownDunningLimitError
from chalicelib.dunning.plans import DunningPlan, DunningStep, StepAnchor, StepKind
from chalicelib.dunning.schedule import (
    DunningState,
    RetryCharge,
    Settlement,
    StepDue,
    late_payment_interest,
    next_action,
    step_key,
)
from chalicelib.money import Currency, Money
from chalicelib.values import PaymentMethod

DUE = date(2027, 1, 31)
PLAN = DunningPlan(
    id="plan_no",
    name="Privat",
    country="NO",
    currency=Currency.NOK,
    steps=(
        DunningStep(key="reminder-1", kind=StepKind.REMINDER, days=14, fee=Money(3500, Currency.NOK)),
        DunningStep(key="notice", kind=StepKind.COLLECTION_NOTICE, days=28, deadline_days=14),
        DunningStep(key="suspend", kind=StepKind.SUSPEND, days=35),
        DunningStep(key="hand-off", kind=StepKind.HAND_OFF, days=45),
    ),
)


def state(**changes: object) -> DunningState:
    values: dict[str, object] = {
        "invoice_id": "inv_1",
        "due_date": DUE,
        "amount": Money(29900, Currency.NOK),
        "payment_method": PaymentMethod.INVOICE,
    }
    values.update(changes)
    return DunningState(**values)  # type: ignore[arg-type]


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


def test_step_keys_are_deterministic_per_invoice_and_step() -> None:
    assert step_key("inv_1", PLAN.steps[0]) == "dunning:inv_1:reminder-1"
    assert step_key("inv_1", 2) == "dunning:inv_1:retry-2"


def test_nothing_before_the_first_step_then_each_step_in_turn() -> None:
    assert next_action(PLAN, state(), day(13)) is None
    first = next_action(PLAN, state(), day(14))
    assert first == StepDue("dunning:inv_1:reminder-1", PLAN.steps[0], day(14))
    done = {"dunning:inv_1:reminder-1": day(14)}
    assert next_action(PLAN, state(done=done), day(20)) is None
    notice = next_action(PLAN, state(done=done), day(28))
    assert isinstance(notice, StepDue) and notice.step.key == "notice"
    finished = {step_key("inv_1", s): day(s.days) for s in PLAN.steps}
    assert next_action(PLAN, state(done=finished), day(400)) is None


def test_a_late_run_keeps_the_spacing_between_steps() -> None:
    # The reminder went out 10 days late, on day 24: the notice (14 days later in the plan) waits to day 38.
    done = {"dunning:inv_1:reminder-1": day(24)}
    assert next_action(PLAN, state(done=done), day(37)) is None
    late = next_action(PLAN, state(done=done), day(38))
    assert isinstance(late, StepDue) and (late.step.key, late.due_on) == ("notice", day(38))


def test_paid_credited_or_disputed_invoices_are_left_alone() -> None:
    paid = state(settlements=(Settlement(day(10), 29900),))
    assert next_action(PLAN, paid, day(30)) is None
    credited = state(settlements=(Settlement(day(5), 20000), Settlement(day(6), 9900)))
    assert next_action(PLAN, credited, day(30)) is None
    assert next_action(PLAN, state(disputed=True), day(30)) is None
    # A part payment leaves the rest to dun; a payment after today is not known yet.
    part = state(settlements=(Settlement(day(10), 10000), Settlement(day(40), 19900)))
    assert part.open_amount(day(14)) == Money(19900, Currency.NOK)
    assert isinstance(next_action(PLAN, part, day(14)), StepDue)


def test_declined_card_is_retried_before_the_plan() -> None:
    failed = DUE
    card = state(payment_method=PaymentMethod.CARD, failed_charge_on=failed)
    assert next_action(PLAN, card, day(2)) is None
    assert next_action(PLAN, card, day(3)) == RetryCharge("dunning:inv_1:retry-1", 1, day(3))
    done = {"dunning:inv_1:retry-1": day(3), "dunning:inv_1:retry-2": day(5)}
    assert (
        next_action(
            PLAN, state(payment_method=PaymentMethod.CARD, failed_charge_on=failed, done=done), day(6)
        )
        is None
    )
    third = next_action(
        PLAN, state(payment_method=PaymentMethod.CARD, failed_charge_on=failed, done=done), day(7)
    )
    assert third == RetryCharge("dunning:inv_1:retry-3", 3, day(7))
    retried = {**done, "dunning:inv_1:retry-3": day(7)}
    reminder = next_action(
        PLAN, state(payment_method=PaymentMethod.CARD, failed_charge_on=failed, done=retried), day(14)
    )
    assert isinstance(reminder, StepDue) and reminder.step.key == "reminder-1"


def test_plan_waits_for_slow_retries() -> None:
    quick = PLAN.model_copy(
        update={
            "steps": (
                DunningStep(key="nudge", kind=StepKind.REMINDER, days=2, after=StepAnchor.FAILED_CHARGE),
            )
        }
    )
    done = {f"dunning:inv_1:retry-{n}": day(n * 4) for n in (1, 2, 3)}
    card = state(payment_method=PaymentMethod.CARD, failed_charge_on=DUE, done=done)
    # Nominally day 2, but the last retry was on day 12.
    action = next_action(quick, card, day(12))
    assert isinstance(action, StepDue) and action.due_on == day(12)


def test_vipps_failures_go_straight_to_the_plan_counting_from_the_failure() -> None:
    plan = PLAN.model_copy(
        update={
            "steps": (
                DunningStep(key="nudge", kind=StepKind.REMINDER, days=1, after=StepAnchor.FAILED_CHARGE),
                DunningStep(key="reminder", kind=StepKind.REMINDER, days=14),
            )
        }
    )
    vipps = state(payment_method=PaymentMethod.VIPPS, failed_charge_on=day(3))
    assert next_action(plan, vipps, day(3)) is None
    action = next_action(plan, vipps, day(4))
    assert isinstance(action, StepDue) and action.step.key == "nudge"
    # Without a failed charge (paid by giro), a failed-charge step counts from the due date.
    assert isinstance(next_action(plan, state(), day(1)), StepDue)


def test_interest_at_the_rate_of_each_day_exact_then_rounded_once() -> None:
    invoice = state(due_date=date(2023, 6, 20), amount=Money(1_000_000, Currency.NOK))
    # 10 days at 10.75 % and 10 days at 11.75 %: 1 000 000 × 2.25 / 365 = 6164.38
    interest = late_payment_interest(invoice, date(2023, 7, 10), DEFAULT_INTEREST_RATES, "NO")
    assert interest == Money(6164, Currency.NOK)


def test_interest_of_10000_kroner_for_30_days_at_12_5_percent() -> None:
    invoice = state(due_date=date(2025, 1, 31), amount=Money(1_000_000, Currency.NOK))
    assert late_payment_interest(invoice, date(2025, 3, 2), DEFAULT_INTEREST_RATES, "NO").amount == 10274


def test_interest_follows_part_payments_and_stops_when_paid() -> None:
    invoice = state(
        due_date=date(2023, 6, 20),
        amount=Money(1_000_000, Currency.NOK),
        settlements=(Settlement(date(2023, 6, 25), 500_000),),
    )
    # 5 days on 10 000, 5 days on 5 000 at 10.75 %, 10 days on 5 000 at 11.75 %: 1 393 750 / 365 = 3818.49
    assert late_payment_interest(invoice, date(2023, 7, 10), DEFAULT_INTEREST_RATES, "NO").amount == 3818
    paid_on_due_date = state(
        due_date=date(2023, 6, 20),
        amount=Money(1_000_000, Currency.NOK),
        settlements=(Settlement(date(2023, 6, 20), 1_000_000),),
    )
    assert late_payment_interest(paid_on_due_date, date(2023, 7, 10), DEFAULT_INTEREST_RATES, "NO").is_zero()
    paid_a_day_late = state(
        due_date=date(2023, 6, 20),
        amount=Money(1_000_000, Currency.NOK),
        settlements=(Settlement(date(2023, 6, 21), 1_000_000),),
    )
    # One day: 1 000 000 × 0.1075 / 365 = 294.52
    assert (
        late_payment_interest(paid_a_day_late, date(2023, 7, 10), DEFAULT_INTEREST_RATES, "NO").amount == 295
    )
    assert late_payment_interest(invoice, date(2023, 6, 20), DEFAULT_INTEREST_RATES, "NO").is_zero()


def test_interest_over_a_day_without_a_known_rate_raises() -> None:
    invoice = state(due_date=date(2026, 6, 20), amount=Money(1_000_000, Currency.NOK))
    with pytest.raises(UnknownDunningLimitError):
        late_payment_interest(invoice, date(2026, 7, 10), DEFAULT_INTEREST_RATES, "NO")
