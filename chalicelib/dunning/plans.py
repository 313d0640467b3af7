"""Dunning plans as configuration: ordered steps after a missed due date or a failed charge, checked
against the legal limits of the plan's country before they are used."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.dunning.limits import DunningLimits, LimitsTable, UnknownDunningLimitError
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.money import Currency, Money
from chalicelib.values import PaymentMethod


class StepKind(StrEnum):
    """What a dunning step does."""

    REMINDER = "reminder"
    COLLECTION_NOTICE = "collection_notice"
    SUSPEND = "suspend"
    STOP = "stop"
    HAND_OFF = "hand_off"


class StepAnchor(StrEnum):
    """What a step's days count from."""

    DUE_DATE = "due_date"
    FAILED_CHARGE = "failed_charge"


FEE_KINDS = frozenset({StepKind.REMINDER, StepKind.COLLECTION_NOTICE})


class DunningStep(BaseModel):
    """One step: ``days`` after the due date (or after a failed automatic charge), with an optional fee
    and, for letters, the payment deadline they give in days from sending."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: StepKind
    days: int = Field(ge=0, le=3650)
    after: StepAnchor = StepAnchor.DUE_DATE
    fee: Money | None = None
    deadline_days: int | None = Field(default=None, ge=1, le=365)


class DunningPlan(BaseModel):
    """A configured sequence of steps for one kind of customer or payment method in one country."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    country: str = Field(min_length=2, max_length=2)
    currency: Currency
    customer_type: str | None = Field(default=None, description="person or organization; None: any")
    payment_methods: tuple[PaymentMethod, ...] = ()
    steps: tuple[DunningStep, ...] = Field(min_length=1)
    card_retry_days: tuple[int, ...] = Field(
        default=(3, 5, 7), description="days after a declined card charge to try again, before the steps"
    )
    late_interest: bool = False
    fees_agreed_in_advance: bool = Field(
        default=False, description="the customer's terms allow reminder fees (Sweden requires it)"
    )


def validate_plan(plan: DunningPlan, limits: LimitsTable, on: date) -> None:
    """Refuse a plan that breaks the law of its country on day ``on`` (or its own order): raises
    :class:`ValidationFailedError` with one :class:`FieldError` per offending field."""
    errors: list[FieldError] = []
    try:
        rules = limits.resolve(plan.country, on)
    except UnknownDunningLimitError:
        errors.append(
            FieldError("country", f"no dunning limits are known for {plan.country} on {on}", "unsupported")
        )
        raise ValidationFailedError("the dunning plan cannot be checked", errors) from None
    if plan.currency != rules.currency:
        errors.append(FieldError("currency", f"plans in {plan.country} charge {rules.currency}", "mismatch"))
    errors.extend(_retry_errors(plan))
    errors.extend(_order_errors(plan))
    errors.extend(_fee_errors(plan, rules))
    errors.extend(_notice_errors(plan, rules))
    if errors:
        raise ValidationFailedError(f"the dunning plan breaks {len(errors)} rule(s)", errors)


def _retry_errors(plan: DunningPlan) -> list[FieldError]:
    days = plan.card_retry_days
    if any(day < 1 for day in days) or any(later <= earlier for earlier, later in pairwise(days)):
        return [FieldError("card_retry_days", "retries are at increasing days after the failed charge")]
    return []


def _order_errors(plan: DunningPlan) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, step in enumerate(plan.steps):
        if step.key in seen:
            errors.append(
                FieldError(f"steps[{index}].key", f"the key {step.key!r} is used twice", "duplicate")
            )
        seen.add(step.key)
        if index and step.days < plan.steps[index - 1].days:
            errors.append(
                FieldError(
                    f"steps[{index}].days",
                    f"{step.kind} at day {step.days} comes after a step at day {plan.steps[index - 1].days}",
                    "out_of_order",
                )
            )
    return errors


def _fee_errors(plan: DunningPlan, rules: DunningLimits) -> list[FieldError]:
    """Each fee-carrying step against the law, then the plan's fees together."""
    errors: list[FieldError] = []
    fee_steps: list[tuple[int, DunningStep]] = []
    for index, step in enumerate(plan.steps):
        if step.fee is None or step.fee.is_zero():
            continue
        if step.kind not in FEE_KINDS:
            message = "only reminders and collection notices carry a fee"
            errors.append(FieldError(f"steps[{index}].fee", message, "not_allowed"))
            continue
        fee_steps.append((index, step))
        errors.extend(_step_fee_errors(plan, index, step, step.fee, rules))
    return errors + _fee_count_errors(fee_steps, rules)


def _step_fee_errors(
    plan: DunningPlan, index: int, step: DunningStep, fee: Money, rules: DunningLimits
) -> list[FieldError]:
    """One step's fee: its currency, the legal maximum, how soon after the due date, prior agreement."""
    field = f"steps[{index}].fee"
    if fee.currency != rules.currency:
        return [FieldError(field, f"fees in {rules.country} are in {rules.currency}", "mismatch")]
    errors: list[FieldError] = []
    cap = rules.max_reminder_fee if step.kind is StepKind.REMINDER else rules.max_notice_fee
    if cap is None:
        errors.append(FieldError(field, f"no fee may be charged for a {step.kind} in {rules.country}"))
    elif fee > cap:
        errors.append(
            FieldError(
                field,
                f"{fee.format_plain()} is above the legal maximum of {cap.format_plain()} for a "
                f"{step.kind} in {rules.country} ({rules.source})",
                "above_legal_limit",
            )
        )
    if step.days < rules.min_fee_days_after_due:
        errors.append(
            FieldError(
                field,
                f"a fee may only be charged {rules.min_fee_days_after_due} days or more after the due "
                f"date in {rules.country}; this step is at day {step.days}",
                "too_early",
            )
        )
    if rules.fee_requires_prior_agreement and not plan.fees_agreed_in_advance:
        errors.append(
            FieldError(field, f"fees in {rules.country} need the customer's prior agreement", "not_agreed")
        )
    return errors


def _fee_count_errors(fee_steps: list[tuple[int, DunningStep]], rules: DunningLimits) -> list[FieldError]:
    """The plan's fees together: at most the legal number per claim, and far enough apart."""
    errors: list[FieldError] = []
    if rules.max_fees is not None and len(fee_steps) > rules.max_fees:
        index = fee_steps[rules.max_fees][0]
        errors.append(
            FieldError(
                f"steps[{index}].fee",
                f"at most {rules.max_fees} fees may be charged per claim in {rules.country}",
                "too_many_fees",
            )
        )
    gap = rules.min_days_between_fees
    if gap is not None:
        for (_, earlier), (index, later) in pairwise(fee_steps):
            if later.days - earlier.days < gap:
                errors.append(
                    FieldError(
                        f"steps[{index}].days",
                        f"fee-carrying letters must be {gap} days apart in {rules.country}",
                        "too_close",
                    )
                )
    return errors


def _notice_errors(plan: DunningPlan, rules: DunningLimits) -> list[FieldError]:
    errors: list[FieldError] = []
    notice: DunningStep | None = None
    for index, step in enumerate(plan.steps):
        if step.kind is StepKind.COLLECTION_NOTICE:
            notice = step
            if step.deadline_days is None or step.deadline_days < rules.min_notice_deadline_days:
                given = "none" if step.deadline_days is None else f"{step.deadline_days} days"
                errors.append(
                    FieldError(
                        f"steps[{index}].deadline_days",
                        f"a debt collection notice in {rules.country} must give at least "
                        f"{rules.min_notice_deadline_days} days to pay; this one gives {given}",
                        "too_short",
                    )
                )
        elif step.kind is StepKind.HAND_OFF:
            if notice is None:
                if rules.notice_required_before_hand_off:
                    errors.append(
                        FieldError(
                            f"steps[{index}].kind",
                            f"debt collection in {rules.country} needs a collection notice first",
                            "notice_missing",
                        )
                    )
            elif step.days < notice.days + (notice.deadline_days or 0):
                errors.append(
                    FieldError(
                        f"steps[{index}].days",
                        f"the hand-off at day {step.days} comes before the notice's deadline "
                        f"(day {notice.days + (notice.deadline_days or 0)})",
                        "before_deadline",
                    )
                )
    return errors


# ---- the standard plan -------------------------------------------------------------------------------

STANDARD_PLAN_PREFIX = "standard"
STANDARD_REMINDER_DAYS = 14
STANDARD_LETTER_DEADLINE_DAYS = 14


def standard_plan_id(country: str, limits_from: date) -> str:
    """The id of a country's standard plan under the limits row valid from ``limits_from``, e.g.
    ``standard-NO-2020-10-01``: the limits a case started under stay readable from its ``plan_id``."""
    return f"{STANDARD_PLAN_PREFIX}-{country}-{limits_from.isoformat()}"


def standard_plan(country: str, on: date, limits: LimitsTable) -> DunningPlan:
    """The plan every seller in ``country`` has until it stores its own: a reminder with the legal
    reminder fee, a debt collection notice, and the hand-off when the notice's deadline has run out.
    Built from the limits valid on ``on`` (a claim's due date: Norway's fee cap goes by when a claim fell
    due). Raises :class:`UnknownDunningLimitError` where the limits are not known.

    Only the reminder carries a fee (one fee per claim is lawful everywhere); where a fee needs the
    customer's prior agreement (Sweden) it carries none, since Abo cannot know the seller's terms."""
    rules = limits.resolve(country, on)
    reminder_day = max(STANDARD_REMINDER_DAYS, rules.min_fee_days_after_due)
    deadline = max(STANDARD_LETTER_DEADLINE_DAYS, rules.min_notice_deadline_days)
    # Two letters at least the letter deadline apart, and never closer than the law spaces fees.
    notice_day = reminder_day + max(deadline, rules.min_days_between_fees or 0)
    fee = None if rules.fee_requires_prior_agreement else rules.max_reminder_fee
    return DunningPlan(
        id=standard_plan_id(rules.country, rules.valid_from),
        name=f"Standard ({rules.country})",
        country=rules.country,
        currency=rules.currency,
        steps=(
            DunningStep(
                key="reminder-1", kind=StepKind.REMINDER, days=reminder_day, fee=fee, deadline_days=deadline
            ),
            DunningStep(
                key="notice", kind=StepKind.COLLECTION_NOTICE, days=notice_day, deadline_days=deadline
            ),
            # Debt collection may start once the notice's deadline has run out (inkassoloven § 9).
            DunningStep(key="hand-off", kind=StepKind.HAND_OFF, days=notice_day + deadline),
        ),
    )


def parse_standard_plan_id(plan_id: str) -> tuple[str, date] | None:
    """(country, the day its limits row is valid from) of a :func:`standard_plan_id`; None for any other
    id (a seller's own plans have ``dpl_`` ids)."""
    prefix, _, rest = plan_id.partition("-")
    country, _, day = rest.partition("-")
    if prefix != STANDARD_PLAN_PREFIX or len(country) != 2:  # an ISO 3166 alpha-2 code
        return None
    try:
        return country, date.fromisoformat(day)
    except ValueError:
        return None


def standard_plan_of_id(plan_id: str, limits: LimitsTable) -> DunningPlan | None:
    """The standard plan a :func:`standard_plan_id` names, or None when it names none (a seller's own plan,
    or limits no longer known)."""
    parsed = parse_standard_plan_id(plan_id)
    if parsed is None:
        return None
    try:
        return standard_plan(*parsed, limits)
    except UnknownDunningLimitError:
        return None
