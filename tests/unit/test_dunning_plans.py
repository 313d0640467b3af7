"""Dunning plans are checked against the law of their country before use."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from chalicelib.dunning.limits import DEFAULT_LIMITS
from chalicelib.dunning.plans import DunningPlan, DunningStep, StepKind, validate_plan
from chalicelib.errors import ValidationFailedError
from chalicelib.money import Currency, Money

TODAY = date(2026, 11, 26)


def nok(kroner: int) -> Money:
    return Money(kroner * 100, Currency.NOK)


def step(key: str, kind: StepKind, days: int, **extra: Any) -> DunningStep:
    return DunningStep(key=key, kind=kind, days=days, **extra)


def norwegian_plan(*steps: DunningStep, **extra: Any) -> DunningPlan:
    default = (
        step("reminder-1", StepKind.REMINDER, 14, fee=nok(35), deadline_days=14),
        step("notice", StepKind.COLLECTION_NOTICE, 28, fee=nok(35), deadline_days=14),
        step("suspend", StepKind.SUSPEND, 35),
        step("hand-off", StepKind.HAND_OFF, 45),
    )
    values: dict[str, Any] = {"id": "plan_no", "name": "Privat, faktura", "country": "NO", "currency": "NOK"}
    values.update(extra)
    return DunningPlan(steps=steps or default, **values)


def errors_of(plan: DunningPlan, on: date = TODAY) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailedError) as raised:
        validate_plan(plan, DEFAULT_LIMITS, on)
    return [(error.field, error.code) for error in raised.value.errors]


def test_a_lawful_norwegian_plan_passes() -> None:
    validate_plan(norwegian_plan(), DEFAULT_LIMITS, TODAY)


def test_a_fee_above_the_legal_limit_is_refused_with_a_clear_message() -> None:
    plan = norwegian_plan(step("reminder-1", StepKind.REMINDER, 14, fee=nok(70)))
    with pytest.raises(ValidationFailedError) as raised:
        validate_plan(plan, DEFAULT_LIMITS, TODAY)
    [error] = raised.value.errors
    assert (error.field, error.code) == ("steps[0].fee", "above_legal_limit")
    assert "70.00 NOK is above the legal maximum of 35.00 NOK for a reminder in NO" in error.message
    # The same plan was lawful before claims due from 1 October 2020.
    validate_plan(plan, DEFAULT_LIMITS, date(2020, 9, 30))


def test_a_reminder_fee_before_14_days_is_refused_but_a_free_reminder_is_fine() -> None:
    plan = norwegian_plan(
        step("nudge", StepKind.REMINDER, 3),
        step("reminder-1", StepKind.REMINDER, 10, fee=nok(35)),
    )
    assert errors_of(plan) == [("steps[1].fee", "too_early")]


def test_a_collection_notice_must_give_14_days() -> None:
    plan = norwegian_plan(
        step("notice", StepKind.COLLECTION_NOTICE, 14, deadline_days=10),
        step("hand-off", StepKind.HAND_OFF, 30),
    )
    assert errors_of(plan) == [("steps[0].deadline_days", "too_short")]
    without_deadline = norwegian_plan(step("notice", StepKind.COLLECTION_NOTICE, 14))
    assert errors_of(without_deadline) == [("steps[0].deadline_days", "too_short")]


def test_steps_out_of_order_and_reused_keys_are_refused() -> None:
    plan = norwegian_plan(
        step("reminder-1", StepKind.REMINDER, 20),
        step("reminder-1", StepKind.REMINDER, 14),
    )
    assert errors_of(plan) == [("steps[1].key", "duplicate"), ("steps[1].days", "out_of_order")]


def test_hand_off_needs_a_notice_whose_deadline_has_passed() -> None:
    assert errors_of(norwegian_plan(step("hand-off", StepKind.HAND_OFF, 30))) == [
        ("steps[0].kind", "notice_missing")
    ]
    early = norwegian_plan(
        step("notice", StepKind.COLLECTION_NOTICE, 14, deadline_days=14),
        step("hand-off", StepKind.HAND_OFF, 20),
    )
    assert errors_of(early) == [("steps[1].days", "before_deadline")]


def test_at_most_two_fees_in_norway_and_only_on_letters() -> None:
    plan = norwegian_plan(
        step("reminder-1", StepKind.REMINDER, 14, fee=nok(35)),
        step("reminder-2", StepKind.REMINDER, 21, fee=nok(35)),
        step("notice", StepKind.COLLECTION_NOTICE, 28, fee=nok(35), deadline_days=14),
        step("stop", StepKind.STOP, 42, fee=nok(10)),
    )
    assert errors_of(plan) == [("steps[3].fee", "not_allowed"), ("steps[2].fee", "too_many_fees")]


def test_every_bad_step_is_reported_at_once() -> None:
    plan = norwegian_plan(
        step("reminder-1", StepKind.REMINDER, 7, fee=nok(50)),
        step("notice", StepKind.COLLECTION_NOTICE, 14, deadline_days=7),
        step("hand-off", StepKind.HAND_OFF, 16),
    )
    assert errors_of(plan) == [
        ("steps[0].fee", "above_legal_limit"),
        ("steps[0].fee", "too_early"),
        ("steps[1].deadline_days", "too_short"),
        ("steps[2].days", "before_deadline"),
    ]


def test_currency_must_be_the_countrys() -> None:
    plan = norwegian_plan(step("reminder-1", StepKind.REMINDER, 14, fee=Money(3500, Currency.SEK)))
    assert errors_of(plan) == [("steps[0].fee", "mismatch")]
    assert errors_of(norwegian_plan(currency="EUR")) == [("currency", "mismatch")]


def test_danish_reminders_ten_days_apart_at_most_three_fees() -> None:
    dkk = Money(10000, Currency.DKK)
    base: dict[str, Any] = {"id": "plan_dk", "name": "Privat", "country": "DK", "currency": "DKK"}
    lawful = DunningPlan(
        steps=(
            step("r1", StepKind.REMINDER, 1, fee=dkk),
            step("r2", StepKind.REMINDER, 11, fee=dkk),
            step("r3", StepKind.COLLECTION_NOTICE, 21, fee=dkk, deadline_days=10),
            step("hand-off", StepKind.HAND_OFF, 31),
        ),
        **base,
    )
    validate_plan(lawful, DEFAULT_LIMITS, TODAY)
    crowded = DunningPlan(
        steps=(
            step("r1", StepKind.REMINDER, 1, fee=dkk),
            step("r2", StepKind.REMINDER, 8, fee=dkk),
            step("r3", StepKind.REMINDER, 20, fee=dkk),
            step("r4", StepKind.REMINDER, 30, fee=dkk),
        ),
        **base,
    )
    assert errors_of(crowded) == [("steps[3].fee", "too_many_fees"), ("steps[1].days", "too_close")]


def test_swedish_fees_need_prior_agreement() -> None:
    base: dict[str, Any] = {"id": "plan_se", "name": "Privat", "country": "SE", "currency": "SEK"}
    steps = (step("r1", StepKind.REMINDER, 10, fee=Money(6000, Currency.SEK)),)
    assert errors_of(DunningPlan(steps=steps, **base)) == [("steps[0].fee", "not_agreed")]
    validate_plan(DunningPlan(steps=steps, fees_agreed_in_advance=True, **base), DEFAULT_LIMITS, TODAY)


def test_unknown_country_and_bad_retry_days() -> None:
    finnish = DunningPlan(
        id="p", name="FI", country="FI", currency="EUR", steps=(step("r1", StepKind.REMINDER, 14),)
    )
    assert errors_of(finnish) == [("country", "unsupported")]
    assert errors_of(norwegian_plan(card_retry_days=(3, 3, 7))) == [("card_retry_days", "invalid")]


def test_a_plan_round_trips_through_json() -> None:
    plan = norwegian_plan()
    again = DunningPlan.model_validate_json(plan.model_dump_json())
    assert again == plan
    assert again.steps[0].fee == nok(35)
