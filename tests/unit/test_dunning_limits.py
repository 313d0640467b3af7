"""Legal dunning limits and late-payment interest rates are looked up by country and day."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.dunning.limits import (
    DEFAULT_INTEREST_RATES,
    DEFAULT_LIMITS,
    NORDIC_LIMITS,
    InterestRateRow,
    InterestRateTable,
    LimitsTable,
    OverlappingRowsError,
    UnknownDunningLimitError,
)
from chalicelib.money import Currency, Money


def test_norwegian_reminder_fee_was_halved_for_claims_due_from_october_2020() -> None:
    assert DEFAULT_LIMITS.resolve("NO", date(2020, 9, 30)).max_reminder_fee == Money(7000, Currency.NOK)
    assert DEFAULT_LIMITS.resolve("NO", date(2020, 10, 1)).max_reminder_fee == Money(3500, Currency.NOK)
    today = DEFAULT_LIMITS.resolve("no", date(2026, 11, 26))
    assert today.max_reminder_fee == Money(3500, Currency.NOK)
    assert today.max_notice_fee == Money(3500, Currency.NOK)
    assert (today.min_fee_days_after_due, today.min_notice_deadline_days, today.max_fees) == (14, 14, 2)
    assert today.notice_required_before_hand_off


def test_the_norwegian_debt_collection_rate_is_700_from_2017_and_750_from_2026() -> None:
    assert DEFAULT_LIMITS.resolve("NO", date(2017, 1, 1)).debt_collection_rate == Money(70000, Currency.NOK)
    assert DEFAULT_LIMITS.resolve("NO", date(2025, 12, 31)).debt_collection_rate == Money(70000, Currency.NOK)
    assert DEFAULT_LIMITS.resolve("NO", date(2026, 1, 1)).debt_collection_rate == Money(75000, Currency.NOK)
    # 35 is 1/20 of 700; the cap is not raised with the 2026 rate until that is verified.
    assert DEFAULT_LIMITS.resolve("NO", date(2026, 1, 1)).max_reminder_fee.amount * 20 == 70000


def test_swedish_and_danish_limits() -> None:
    sweden = DEFAULT_LIMITS.resolve("SE", date(2026, 11, 26))
    assert sweden.max_reminder_fee == Money(6000, Currency.SEK)
    assert sweden.max_notice_fee == Money(18000, Currency.SEK)
    assert sweden.fee_requires_prior_agreement
    assert sweden.min_notice_deadline_days == 8
    denmark = DEFAULT_LIMITS.resolve("DK", date(2026, 11, 26))
    assert denmark.max_reminder_fee == Money(10000, Currency.DKK)
    assert (denmark.max_fees, denmark.min_days_between_fees, denmark.min_notice_deadline_days) == (3, 10, 10)


def test_unknown_country_or_date_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownDunningLimitError) as country:
        DEFAULT_LIMITS.resolve("FI", date(2026, 1, 1))
    assert country.value.reason == "country"
    with pytest.raises(UnknownDunningLimitError) as day:
        DEFAULT_LIMITS.resolve("NO", date(2016, 12, 31))
    assert day.value.reason == "date"


def test_overlapping_rows_are_refused() -> None:
    with pytest.raises(OverlappingRowsError):
        LimitsTable([*NORDIC_LIMITS, NORDIC_LIMITS[0]])
    with pytest.raises(OverlappingRowsError):
        InterestRateTable(
            [
                InterestRateRow("NO", 1200, date(2026, 1, 1), None, "a"),
                InterestRateRow("NO", 1250, date(2026, 6, 1), None, "b"),
            ]
        )


def test_norwegian_late_payment_interest_by_half_year() -> None:
    rates = DEFAULT_INTEREST_RATES
    assert rates.resolve("NO", date(2023, 6, 30)).basis_points == 1075
    assert rates.resolve("NO", date(2023, 7, 1)).basis_points == 1175
    assert rates.resolve("NO", date(2025, 3, 1)).basis_points == 1250
    assert rates.resolve("NO", date(2026, 6, 30)).basis_points == 1200
    # The rate for 2025H2 was not verified, and the one for 2026H2 is not encoded: no guessing.
    for day in (date(2025, 7, 1), date(2026, 7, 1)):
        with pytest.raises(UnknownDunningLimitError):
            rates.resolve("NO", day)


def test_swedish_rate_is_the_reference_rate_plus_eight() -> None:
    assert DEFAULT_INTEREST_RATES.resolve("SE", date(2024, 3, 1)).basis_points == 1200
    assert DEFAULT_INTEREST_RATES.resolve("SE", date(2025, 3, 1)).basis_points == 1100
    assert DEFAULT_INTEREST_RATES.resolve("SE", date(2026, 3, 1)).basis_points == 1000


def test_spans_cut_at_rate_changes_and_merged_adds_a_half_year() -> None:
    spans = DEFAULT_INTEREST_RATES.spans("NO", date(2023, 6, 20), date(2023, 7, 10))
    assert [(s.start, s.end, s.rate.basis_points) for s in spans] == [
        (date(2023, 6, 20), date(2023, 7, 1), 1075),
        (date(2023, 7, 1), date(2023, 7, 10), 1175),
    ]
    extended = DEFAULT_INTEREST_RATES.merged(
        [InterestRateRow("NO", 1225, date(2025, 7, 1), date(2026, 1, 1), "operator")]
    )
    assert extended.resolve("NO", date(2025, 9, 1)).basis_points == 1225
    assert extended.resolve("NO", date(2025, 1, 1)).basis_points == 1250
