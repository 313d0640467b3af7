"""The billing day across a subscription's phases: campaign → list price → next plan, changes at period
end, pauses. The billing day is the subscription's anchor, not the day the latest phase started."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from itertools import islice, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.catalog.models import Campaign, Component, Offer, Period, Plan
from chalicelib.money import Currency
from chalicelib.periods import PeriodUnit
from chalicelib.subscriptions.models import Phase
from chalicelib.subscriptions.timeline import BillingPeriod, billing_periods, change_anchor, phases_for_order
from chalicelib.values import PaymentMethod

NOW = datetime(2027, 1, 1, tzinfo=UTC)
MONTH, YEAR = PeriodUnit.MONTH, PeriodUnit.YEAR


def plan(plan_id: str, unit: PeriodUnit = MONTH, count: int = 1, **extra: object) -> Plan:
    return Plan.model_validate(
        {
            "id": plan_id,
            "legal_entity_id": "le_1",
            "name": plan_id,
            "product_ids": ["prd_news"],
            "currency": Currency.NOK,
            "price": 19900,
            "period": Period(unit=unit, count=count),
            "components": [Component(product_id="prd_news", price=19900)],
            "created_at": NOW,
            **extra,
        }
    )


MONTHLY = plan("monthly")
QUARTERLY = plan("quarterly", count=3)
YEARLY = plan("yearly", YEAR)
STANDARD = plan("standard")
INTRO = plan("intro", binding_periods=2, next_plan_id="standard")
PLANS = {p.id: p for p in (MONTHLY, QUARTERLY, YEARLY, STANDARD, INTRO)}


def offer(plan_id: str, campaign_periods: int | None = None, after: str | None = None) -> Offer:
    return Offer.model_validate(
        {
            "id": "off_1",
            "name": "offer",
            "plan_id": plan_id,
            "campaign": Campaign(price=4900, periods=campaign_periods) if campaign_periods else None,
            "after_campaign": {"plan_id": after} if after else None,
            "payment_methods": [PaymentMethod.INVOICE],
            "created_at": NOW,
        }
    )


def first(phases: list[Phase], how_many: int) -> list[BillingPeriod]:
    return list(islice(billing_periods(phases, PLANS), how_many))


def table(phases: list[Phase], how_many: int) -> list[tuple[str, str, str, bool]]:
    """(start, last day, plan, campaign price?) of the first periods, as a billing person reads them."""
    return [
        (
            bp.period.start.isoformat(),
            bp.period.last_day.isoformat(),
            bp.plan.id,
            bp.campaign_price is not None,
        )
        for bp in first(phases, how_many)
    ]


def change_at(phases: list[Phase], effective: date, new_plan: Plan, keeps_day: bool) -> list[Phase]:
    """The phases a plan change writes (``ChangeSubscription.change``): the phases before the effective
    day, then the new plan from it, anchored by ``change_anchor`` if the plans cut time the same way."""
    anchor = change_anchor(phases, PLANS, effective) if keeps_day else effective
    kept = [phase for phase in phases if phase.start < effective]
    return [*kept, Phase(plan_id=new_plan.id, start=effective, anchor=anchor, source="change")]


# --- the three transitions, from month ends --------------------------------------------------------------


def test_campaign_then_list_price_from_31_january_keeps_month_ends() -> None:
    # The fault: after a three-month campaign the list-price phase starts on 30 April and billed on the
    # 30th ever after (30 May, 30 June, ...).
    phases = phases_for_order(offer("monthly", 3), MONTHLY, date(2027, 1, 31))
    assert table(phases, 7) == [
        ("2027-01-31", "2027-02-27", "monthly", True),
        ("2027-02-28", "2027-03-30", "monthly", True),
        ("2027-03-31", "2027-04-29", "monthly", True),
        ("2027-04-30", "2027-05-30", "monthly", False),
        ("2027-05-31", "2027-06-29", "monthly", False),
        ("2027-06-30", "2027-07-30", "monthly", False),
        ("2027-07-31", "2027-08-30", "monthly", False),
    ]


def test_campaign_then_another_plan_with_longer_periods_keeps_month_ends() -> None:
    phases = phases_for_order(offer("monthly", 1, after="quarterly"), MONTHLY, date(2027, 1, 31))
    assert table(phases, 4) == [
        ("2027-01-31", "2027-02-27", "monthly", True),
        ("2027-02-28", "2027-05-30", "quarterly", False),
        ("2027-05-31", "2027-08-30", "quarterly", False),
        ("2027-08-31", "2027-11-29", "quarterly", False),
    ]


def test_list_price_then_next_plan_after_binding_keeps_month_ends() -> None:
    # Intro is bound for two months from 31 December; Standard takes over when they end, on 29 February
    # (a leap year), and bills on month ends after it: 31 March, not 29 March.
    phases = phases_for_order(offer("intro"), INTRO, date(2027, 12, 31))
    assert table(phases, 5) == [
        ("2027-12-31", "2028-01-30", "intro", False),
        ("2028-01-31", "2028-02-28", "intro", False),
        ("2028-02-29", "2028-03-30", "standard", False),
        ("2028-03-31", "2028-04-29", "standard", False),
        ("2028-04-30", "2028-05-30", "standard", False),
    ]


@pytest.mark.parametrize("new_plan", [STANDARD, QUARTERLY, YEARLY], ids=lambda p: p.id)
def test_a_change_at_period_end_from_a_month_end_keeps_month_ends(new_plan: Plan) -> None:
    # After a three-month campaign the list-price phase starts on 30 April; a change made in May takes
    # effect at the end of [30 Apr, 31 May).
    phases = phases_for_order(offer("monthly", 3), MONTHLY, date(2027, 1, 31))
    changed = change_at(phases, date(2027, 5, 31), new_plan, keeps_day=new_plan is STANDARD)
    periods = first(changed, 7)
    assert [bp.period.start for bp in periods[3:5]] == [date(2027, 4, 30), date(2027, 5, 31)]
    assert periods[4].plan == new_plan
    assert all(bp.period == bp.nominal for bp in periods)  # whole periods, nothing prorated
    assert all(on_month_end(bp.period.start) for bp in periods)


def test_a_change_at_period_end_on_30_april_keeps_month_ends_on_a_quarterly_plan() -> None:
    phases = [Phase(plan_id="monthly", start=date(2027, 1, 31))]
    changed = change_at(phases, date(2027, 4, 30), QUARTERLY, keeps_day=False)
    assert table(changed, 5)[3:] == [
        ("2027-04-30", "2027-07-30", "quarterly", False),
        ("2027-07-31", "2027-10-30", "quarterly", False),
    ]


def test_a_change_at_period_end_to_a_bound_plan_binds_from_the_change() -> None:
    # Intro is bound for two months and hands over to Standard: counted from the change on 30 April, not
    # from the subscription's anchor (which once made Standard start before the change, twice billed).
    phases = phases_for_order(offer("monthly", 3), MONTHLY, date(2027, 1, 31))
    changed = change_at(phases, date(2027, 4, 30), INTRO, keeps_day=True)
    assert table(changed, 7)[2:] == [
        ("2027-03-31", "2027-04-29", "monthly", True),
        ("2027-04-30", "2027-05-30", "intro", False),
        ("2027-05-31", "2027-06-29", "intro", False),
        ("2027-06-30", "2027-07-30", "standard", False),
        ("2027-07-31", "2027-08-30", "standard", False),
    ]


def test_a_change_made_mid_period_keeps_the_billing_day() -> None:
    # Same periods, effective 11 May: the rest of [30 Apr, 31 May) is prorated, then month ends again.
    phases = phases_for_order(offer("monthly", 3), MONTHLY, date(2027, 1, 31))
    changed = change_at(phases, date(2027, 5, 11), STANDARD, keeps_day=True)
    assert table(changed, 6)[3:] == [
        ("2027-04-30", "2027-05-10", "monthly", False),
        ("2027-05-11", "2027-05-30", "standard", False),
        ("2027-05-31", "2027-06-29", "standard", False),
    ]


def test_a_pause_after_the_binding_keeps_the_next_plan_and_its_billing_day() -> None:
    # Intro (bound two months from 31 January) hands over to Standard on 31 March; a pause from 10 May
    # to 20 June once kept Intro's price until the pause and restarted the billing day on resume.
    intro = phases_for_order(offer("intro"), INTRO, date(2027, 1, 31))[0]
    phases = [
        intro,
        Phase(plan_id="intro", start=date(2027, 5, 10), paused=True, source="pause"),
        intro.model_copy(
            update={"start": date(2027, 6, 20), "anchor": intro.period_anchor, "source": "resume"}
        ),
    ]
    assert table(phases, 6) == [
        ("2027-01-31", "2027-02-27", "intro", False),
        ("2027-02-28", "2027-03-30", "intro", False),
        ("2027-03-31", "2027-04-29", "standard", False),
        ("2027-04-30", "2027-05-09", "standard", False),
        ("2027-06-20", "2027-06-29", "standard", False),
        ("2027-06-30", "2027-07-30", "standard", False),
    ]


def on_month_end(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


# --- other anchors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # the 30th: February moves it for one period only
        (date(2027, 1, 30), ["2027-01-30", "2027-02-28", "2027-03-30", "2027-04-30", "2027-05-30"]),
        # the 29th: a common year's February is the 28th, a leap year's the 29th
        (date(2027, 1, 29), ["2027-01-29", "2027-02-28", "2027-03-29", "2027-04-29", "2027-05-29"]),
        (date(2028, 1, 29), ["2028-01-29", "2028-02-29", "2028-03-29", "2028-04-29", "2028-05-29"]),
        (date(2027, 12, 29), ["2027-12-29", "2028-01-29", "2028-02-29", "2028-03-29", "2028-04-29"]),
    ],
)
def test_a_one_month_campaign_ending_in_february_keeps_the_anchor_day(
    start: date, expected: list[str]
) -> None:
    phases = phases_for_order(offer("monthly", 1 if start.month == 1 else 2), MONTHLY, start)
    assert [row[0] for row in table(phases, 5)] == expected


def test_yearly_from_29_february_keeps_leap_days_after_the_campaign_year() -> None:
    phases = phases_for_order(offer("yearly", 1), YEARLY, date(2028, 2, 29))
    assert table(phases, 6) == [
        ("2028-02-29", "2029-02-27", "yearly", True),
        ("2029-02-28", "2030-02-27", "yearly", False),
        ("2030-02-28", "2031-02-27", "yearly", False),
        ("2031-02-28", "2032-02-28", "yearly", False),  # 2032 is a leap year: back to the 29th
        ("2032-02-29", "2033-02-27", "yearly", False),
        ("2033-02-28", "2034-02-27", "yearly", False),
    ]


def test_a_change_made_mid_period_starts_a_new_anniversary() -> None:
    # A change to a yearly plan effective 11 March (made on the 10th, prorated) bills on 11 March.
    phases = [Phase(plan_id="monthly", start=date(2027, 1, 31))]
    changed = change_at(phases, date(2027, 3, 11), YEARLY, keeps_day=False)
    assert table(changed, 4) == [
        ("2027-01-31", "2027-02-27", "monthly", False),
        ("2027-02-28", "2027-03-10", "monthly", False),
        ("2027-03-11", "2028-03-10", "yearly", False),
        ("2028-03-11", "2029-03-10", "yearly", False),
    ]


def test_a_resume_after_a_pause_keeps_the_month_end() -> None:
    # List price from 30 April (after the campaign), paused 10 June to 20 July: resumed on its anchor.
    campaign, listed = phases_for_order(offer("monthly", 3), MONTHLY, date(2027, 1, 31))
    phases = [
        campaign,
        listed,
        Phase(plan_id="monthly", start=date(2027, 6, 10), paused=True, source="pause"),
        listed.model_copy(
            update={"start": date(2027, 7, 20), "anchor": listed.period_anchor, "source": "resume"}
        ),
    ]
    assert table(phases, 8)[4:] == [
        ("2027-05-31", "2027-06-09", "monthly", False),
        ("2027-07-20", "2027-07-30", "monthly", False),
        ("2027-07-31", "2027-08-30", "monthly", False),
        ("2027-08-31", "2027-09-29", "monthly", False),
    ]


# --- the property ---------------------------------------------------------------------------------------

MONTHLY_PLANS = [MONTHLY, QUARTERLY, YEARLY, STANDARD, INTRO]


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    first_plan=st.sampled_from(MONTHLY_PLANS),
    campaign=st.integers(min_value=0, max_value=4),
    after=st.sampled_from([None, *MONTHLY_PLANS]),
    change=st.one_of(
        st.none(), st.tuples(st.integers(min_value=1, max_value=10), st.sampled_from(MONTHLY_PLANS))
    ),
)
def test_every_period_starts_on_the_anchor_day_across_phases(
    start: date, first_plan: Plan, campaign: int, after: Plan | None, change: tuple[int, Plan] | None
) -> None:
    # For any anchor day and any sequence of phases handing over at period ends (campaign → list price or
    # another plan → next plan after binding → a change at period end), every period is whole and starts
    # on min(anchor day, last day of its month).
    phases = phases_for_order(
        offer(first_plan.id, campaign or None, after.id if after else None), first_plan, start
    )
    if change is not None:
        index, new_plan = change
        effective = first(phases, index + 1)[index].period.start
        current = first(phases, index)[-1].plan
        same = (current.period, current.alignment) == (new_plan.period, new_plan.alignment)
        phases = change_at(phases, effective, new_plan, keeps_day=same)
    periods = first(phases, 30)
    assert periods[0].period.start == start
    assert all(a.period.end == b.period.start for a, b in pairwise(periods))
    for bp in periods:
        day = bp.period.start
        assert day.day == min(start.day, calendar.monthrange(day.year, day.month)[1])
        assert bp.period == bp.nominal
