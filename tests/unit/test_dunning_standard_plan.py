"""Every seller has its country's standard dunning plan until its own plan covers the invoice; the
standard plan passes the same legal check as a seller's own plan, for every row of the limits data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.dunning.index import DunningCase
from chalicelib.dunning.limits import DEFAULT_LIMITS, NORDIC_LIMITS, DunningLimits, UnknownDunningLimitError
from chalicelib.dunning.plan_store import StoredPlan, effective_dunning_plan
from chalicelib.dunning.plans import (
    DunningPlan,
    DunningStep,
    StepKind,
    parse_standard_plan_id,
    standard_plan,
    standard_plan_of_id,
    validate_plan,
)
from chalicelib.money import Currency, Money
from chalicelib.values import PaymentMethod

CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _days_of(row: DunningLimits) -> list[date]:
    """The first and last day a limits row is valid on (the last: a year on when it is open-ended)."""
    last = row.valid_to - timedelta(days=1) if row.valid_to else row.valid_from + timedelta(days=365)
    return [row.valid_from, last]


@pytest.mark.parametrize(
    ("row", "day"),
    [(row, day) for row in NORDIC_LIMITS for day in _days_of(row)],
    ids=lambda value: value.country if isinstance(value, DunningLimits) else value.isoformat(),
)
def test_the_standard_plan_is_lawful_for_every_country_and_limits_row(row: DunningLimits, day: date) -> None:
    plan = standard_plan(row.country, day, DEFAULT_LIMITS)
    validate_plan(plan, DEFAULT_LIMITS, day)  # raises ValidationFailedError on any breach
    assert (plan.country, plan.currency) == (row.country, row.currency)
    assert [step.kind for step in plan.steps] == [
        StepKind.REMINDER,
        StepKind.COLLECTION_NOTICE,
        StepKind.HAND_OFF,
    ]
    reminder, notice, hand_off = plan.steps
    assert reminder.fee == (None if row.fee_requires_prior_agreement else row.max_reminder_fee)
    assert notice.fee is None
    assert notice.deadline_days is not None and notice.deadline_days >= max(14, row.min_notice_deadline_days)
    assert hand_off.days == notice.days + notice.deadline_days
    # Its id names the limits row, so a case that started under it reads the same plan later.
    assert standard_plan_of_id(plan.id, DEFAULT_LIMITS) == plan
    assert parse_standard_plan_id(plan.id) == (row.country, row.valid_from)


def test_the_legal_fee_per_country_and_date() -> None:
    def fee(country: str, day: date) -> Money | None:
        return standard_plan(country, day, DEFAULT_LIMITS).steps[0].fee

    assert fee("NO", date(2020, 9, 30)) == Money(7000, Currency.NOK)  # 1/10 of inkassosatsen NOK 700
    assert fee("NO", date(2020, 10, 1)) == Money(3500, Currency.NOK)  # halved for claims due from then
    assert fee("NO", date(2027, 1, 15)) == Money(3500, Currency.NOK)
    assert fee("DK", date(2027, 1, 15)) == Money(10000, Currency.DKK)
    assert fee("SE", date(2027, 1, 15)) is None  # a påminnelseavgift needs the customer's prior agreement
    assert standard_plan("no", date(2027, 1, 15), DEFAULT_LIMITS).id == "standard-NO-2026-01-01"
    assert [step.days for step in standard_plan("NO", date(2027, 1, 15), DEFAULT_LIMITS).steps] == [
        14,
        28,
        42,
    ]


def test_no_standard_plan_where_the_limits_are_unknown() -> None:
    with pytest.raises(UnknownDunningLimitError):
        standard_plan("SE", date(2021, 1, 1), DEFAULT_LIMITS)
    with pytest.raises(UnknownDunningLimitError):
        standard_plan("FI", date(2027, 1, 1), DEFAULT_LIMITS)
    for plan_id in ("dpl_123", "standard-NO", "standard-NO-2026-13-01", "standard-NOR-2026-01-01", ""):
        assert standard_plan_of_id(plan_id, DEFAULT_LIMITS) is None
    assert standard_plan_of_id("standard-SE-2020-01-01", DEFAULT_LIMITS) is None


def _case(plan_id: str | None = None, method: PaymentMethod = PaymentMethod.INVOICE) -> DunningCase:
    return DunningCase(
        invoice_id="inv_1",
        legal_entity_id="le_1",
        customer_id="cus_1",
        currency=Currency.NOK,
        due_date=date(2027, 1, 15),
        payment_method=method,
        plan_id=plan_id,
        created_at=CREATED,
    )


def _own(plan_id: str, customer_type: str | None = None, *methods: PaymentMethod) -> StoredPlan:
    plan = DunningPlan(
        id=plan_id,
        name="Egen",
        country="NO",
        currency=Currency.NOK,
        customer_type=customer_type,
        payment_methods=methods,
        steps=(DunningStep(key="purring", kind=StepKind.REMINDER, days=20),),
    )
    return StoredPlan(plan=plan, legal_entity_id="le_1", created_at=CREATED)


def test_the_standard_plan_applies_where_no_own_plan_matches() -> None:
    found = effective_dunning_plan([], _case(), "person", "NO")
    assert found is not None and found.standard
    assert (found.plan.id, found.legal_entity_id) == ("standard-NO-2026-01-01", "le_1")
    # An own plan for organisations only leaves persons to the standard plan
    business = _own("dpl_business", "organization")
    found = effective_dunning_plan([business], _case(), "person", "NO")
    assert found is not None and found.plan.id == "standard-NO-2026-01-01"
    found = effective_dunning_plan([business], _case(), "organization", "NO")
    assert found is not None and found.plan.id == "dpl_business"
    # The seller's country decides
    found = effective_dunning_plan([], _case(), "person", "DK")
    assert found is not None and found.plan.id == "standard-DK-2020-01-01"
    assert effective_dunning_plan([], _case(), "person", "FI") is None


def test_an_own_plan_wins_but_a_case_keeps_the_plan_it_started_with() -> None:
    own = _own("dpl_own")
    found = effective_dunning_plan([own], _case(), "person", "NO")
    assert found is not None and (found.plan.id, found.standard) == ("dpl_own", False)
    # A case that started under the standard plan keeps it after the seller stores its own
    found = effective_dunning_plan([own], _case("standard-NO-2026-01-01"), "person", "NO")
    assert found is not None and found.standard and found.plan.id == "standard-NO-2026-01-01"
    # ... and one that started under the seller's plan keeps that
    found = effective_dunning_plan([own, _own("dpl_newer")], _case("dpl_own"), "person", "NO")
    assert found is not None and found.plan.id == "dpl_own"
