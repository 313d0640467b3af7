"""VAT rates as effective-dated data: lookups by country, code and date; overriding rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.catalog.vat import (
    DEFAULT_VAT_TABLE,
    NORDIC_VAT_ROWS,
    OverlappingVatRatesError,
    UnknownVatRateError,
    VatCode,
    VatRateRow,
    VatTable,
    resolve_vat_rate,
)
from chalicelib.money import Currency, Money, VatRate, vat_from_net

ON = date(2026, 11, 26)


@pytest.mark.parametrize(
    ("country", "code", "basis_points"),
    [
        ("NO", VatCode.STANDARD, 2500),
        ("NO", VatCode.FOOD, 1500),
        ("NO", VatCode.LOW, 1200),
        ("NO", VatCode.NEWS, 0),
        ("NO", VatCode.EXEMPT, 0),
        ("SE", VatCode.STANDARD, 2500),
        ("SE", VatCode.FOOD, 600),  # temporary cut, 1 Apr 2026 – 31 Dec 2027
        ("SE", VatCode.LOW, 600),
        ("SE", VatCode.NEWS, 600),
        ("SE", VatCode.EXEMPT, 0),
        ("DK", VatCode.STANDARD, 2500),
        ("DK", VatCode.FOOD, 2500),
        ("DK", VatCode.LOW, 2500),
        ("DK", VatCode.NEWS, 0),
        ("DK", VatCode.EXEMPT, 0),
    ],
)
def test_current_nordic_rates(country: str, code: VatCode, basis_points: int) -> None:
    assert resolve_vat_rate(country, code, ON) == VatRate(basis_points)


def test_codes_and_countries_may_be_plain_strings() -> None:
    assert resolve_vat_rate("no", "news", ON) == VatRate(0)
    assert resolve_vat_rate(" se ", "standard", ON) == VatRate(2500)


@pytest.mark.parametrize(
    ("on", "basis_points"),
    [
        (date(2026, 3, 31), 1200),
        (date(2026, 4, 1), 600),  # valid_from is inclusive
        (date(2027, 12, 31), 600),
        (date(2028, 1, 1), 1200),  # valid_to is exclusive: back to 12 %
        (date(2040, 1, 1), 1200),
    ],
)
def test_swedish_food_rate_follows_its_dates(on: date, basis_points: int) -> None:
    assert resolve_vat_rate("SE", VatCode.FOOD, on) == VatRate(basis_points)


def test_a_rate_feeds_the_money_vat_helpers() -> None:
    # 100.00 NOK net of food in Norway: 15 % is 15.00, gross 115.00.
    split = vat_from_net(Money(10_000, Currency.NOK), resolve_vat_rate("NO", VatCode.FOOD, ON))
    assert (split.vat.amount, split.gross.amount) == (1_500, 11_500)


@pytest.mark.parametrize(
    ("country", "code", "on", "reason"),
    [
        ("FI", VatCode.STANDARD, ON, "country"),
        ("", VatCode.STANDARD, ON, "country"),
        ("NO", "books", ON, "code"),
        ("NO", VatCode.LOW, date(2021, 9, 30), "date"),  # before the table vouches for 12 %
        ("SE", VatCode.STANDARD, date(2019, 6, 30), "date"),
    ],
)
def test_unknown_lookups_raise_a_typed_error(country: str, code: str, on: date, reason: str) -> None:
    with pytest.raises(UnknownVatRateError) as caught:
        resolve_vat_rate(country, code, on)
    assert caught.value.reason == reason
    assert caught.value.on == on
    assert isinstance(caught.value, LookupError)


def test_a_code_known_elsewhere_but_not_in_a_country_is_an_unknown_code() -> None:
    table = VatTable([VatRateRow("FI", VatCode.STANDARD, VatRate(2550), date(2024, 9, 1))])
    with pytest.raises(UnknownVatRateError) as caught:
        table.resolve("FI", VatCode.NEWS, ON)
    assert caught.value.reason == "code"


def test_default_table_has_every_code_for_every_country_today() -> None:
    for country in ("NO", "SE", "DK"):
        for code in VatCode:
            resolve_vat_rate(country, code, ON)


def test_default_table_is_built_from_the_shipped_rows() -> None:
    assert set(DEFAULT_VAT_TABLE.rows) == set(NORDIC_VAT_ROWS)


def test_overlapping_rows_are_refused() -> None:
    rows = [
        VatRateRow("NO", VatCode.FOOD, VatRate(1500), date(2012, 1, 1)),
        VatRateRow("NO", VatCode.FOOD, VatRate(1000), date(2030, 1, 1)),
    ]
    with pytest.raises(OverlappingVatRatesError):
        VatTable(rows)


def test_adjacent_rows_do_not_overlap() -> None:
    table = VatTable(
        [
            VatRateRow("NO", VatCode.FOOD, VatRate(1500), date(2012, 1, 1), date(2030, 1, 1)),
            VatRateRow("NO", VatCode.FOOD, VatRate(1000), date(2030, 1, 1)),
        ]
    )
    assert table.resolve("NO", VatCode.FOOD, date(2029, 12, 31)) == VatRate(1500)
    assert table.resolve("NO", VatCode.FOOD, date(2030, 1, 1)) == VatRate(1000)


@pytest.mark.parametrize(
    ("country", "valid_to"),
    [("no", None), ("NOR", None), ("NO", date(2020, 1, 1)), ("NO", date(2019, 12, 31))],
)
def test_rows_are_checked(country: str, valid_to: date | None) -> None:
    with pytest.raises(ValueError):
        VatRateRow(country, VatCode.STANDARD, VatRate(2500), date(2020, 1, 1), valid_to)


def test_merging_a_future_rate_ends_the_open_row() -> None:
    # The admin records a cut of Norway's food rate to 10 % from 1 Jan 2030.
    table = DEFAULT_VAT_TABLE.merged([VatRateRow("NO", VatCode.FOOD, VatRate(1000), date(2030, 1, 1))])
    assert table.resolve("NO", VatCode.FOOD, date(2029, 12, 31)) == VatRate(1500)
    assert table.resolve("NO", VatCode.FOOD, date(2030, 1, 1)) == VatRate(1000)
    food_rows = [row for row in table.rows if (row.country, row.code) == ("NO", VatCode.FOOD)]
    assert food_rows == [
        VatRateRow("NO", VatCode.FOOD, VatRate(1500), date(2012, 1, 1), date(2030, 1, 1)),
        VatRateRow("NO", VatCode.FOOD, VatRate(1000), date(2030, 1, 1)),
    ]
    # The default table is untouched.
    assert resolve_vat_rate("NO", VatCode.FOOD, date(2030, 1, 1)) == VatRate(1500)


def test_merging_a_temporary_rate_splits_the_open_row() -> None:
    temporary = VatRateRow("NO", VatCode.LOW, VatRate(600), date(2027, 1, 1), date(2027, 7, 1))
    table = DEFAULT_VAT_TABLE.merged([temporary])
    assert table.resolve("NO", VatCode.LOW, date(2026, 12, 31)) == VatRate(1200)
    assert table.resolve("NO", VatCode.LOW, date(2027, 3, 1)) == VatRate(600)
    assert table.resolve("NO", VatCode.LOW, date(2027, 7, 1)) == VatRate(1200)


def test_merging_over_the_whole_history_replaces_it() -> None:
    table = DEFAULT_VAT_TABLE.merged([VatRateRow("SE", VatCode.FOOD, VatRate(1200), date(2000, 1, 1))])
    assert table.resolve("SE", VatCode.FOOD, date(2026, 6, 1)) == VatRate(1200)
    assert [row for row in table.rows if (row.country, row.code) == ("SE", VatCode.FOOD)] == [
        VatRateRow("SE", VatCode.FOOD, VatRate(1200), date(2000, 1, 1))
    ]


def test_merging_adds_a_new_country() -> None:
    table = DEFAULT_VAT_TABLE.merged([VatRateRow("FI", VatCode.STANDARD, VatRate(2550), date(2024, 9, 1))])
    assert table.resolve("FI", VatCode.STANDARD, ON) == VatRate(2550)
    assert table.resolve("NO", VatCode.STANDARD, ON) == VatRate(2500)


_EPOCH = date(2020, 1, 1)
_day_offsets = st.integers(min_value=0, max_value=4000)


@st.composite
def _rows(draw: st.DrawFn) -> VatRateRow:
    start = draw(_day_offsets)
    length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=2000)))
    return VatRateRow(
        "NO",
        VatCode.STANDARD,
        VatRate(draw(st.integers(min_value=0, max_value=10_000))),
        _EPOCH + timedelta(days=start),
        None if length is None else _EPOCH + timedelta(days=start + length),
    )


@given(old=_rows(), new=st.lists(_rows(), max_size=3), offset=_day_offsets)
def test_merged_rows_win_where_they_apply_and_old_rows_elsewhere(
    old: VatRateRow, new: list[VatRateRow], offset: int
) -> None:
    # New rows may overlap each other; keep the first of each overlapping group so they form a table.
    accepted: list[VatRateRow] = []
    for row in new:
        if not any(row.overlaps(other) for other in accepted):
            accepted.append(row)
    table = VatTable([old]).merged(accepted)
    day = _EPOCH + timedelta(days=offset)
    winner = next((row for row in accepted if row.applies_on(day)), None)
    expected = winner.rate if winner else old.rate if old.applies_on(day) else None
    if expected is None:
        with pytest.raises(UnknownVatRateError):
            table.resolve("NO", VatCode.STANDARD, day)
    else:
        assert table.resolve("NO", VatCode.STANDARD, day) == expected
