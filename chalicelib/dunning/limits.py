"""Legal limits on dunning as effective-dated data per country: reminder fees, notice deadlines, and the
statutory late-payment interest rate. Pure: nothing here reads the clock or the store.

Validity is half-open, ``[valid_from, valid_to)``, like every period in Abo; ``valid_from`` is the date from
which the table vouches for a row (the rule may be older). A country or date the table does not cover raises
:class:`UnknownDunningLimitError` rather than guessing. Every row names its source; figures taken from
secondary sources (debt collectors, accountants) rather than the regulation itself say so.

Norway (inkassoloven, inkassoforskriften, forsinkelsesrenteloven):

- The reminder fee ("purregebyr") was 1/10 of the debt collection rate ("inkassosatsen"), which was NOK 700
  from 1 Jan 2017 (up from 670; sticos.no, advokat.asker.no, faktura.no), so NOK 70, unchanged through 2020
  (sergel.no "inkassosats og gebyrer 2020"). The government halved the fee for reminders and debt
  collection notices to NOK 35 for claims falling due from 1 Oct 2020 (press release 19 Jun 2020, reported
  by lindorff.no, sergel.no, nbbl.no, kraviainkasso.no); 35 is 1/20 of 700.
- The fee may only be charged for a written reminder sent at least 14 days after the due date, for at most
  two reminders (or one reminder and one debt collection notice) per claim (opas.no 2015, gothiagroup 2009;
  the two-fee limit is not confirmed by a source after the 2020 change).
- A debt collection notice ("inkassovarsel", inkassoloven § 9) must give at least 14 days to pay, and must
  precede debt collection.
- Two debt collectors (kred.no, blog.amili.no) report the debt collection rate at NOK 750 from 1 Jan 2026.
  Whether the reminder fee cap followed it (1/20 would be NOK 37.50) is not verified, so the cap stays at
  NOK 35, which is never above the law.
- Late-payment interest ("forsinkelsesrente") is Norges Bank's policy rate per 1 January and 1 July plus
  eight percentage points, set each half-year (forsinkelsesrenteloven § 3; jusinfo.no, regnskapnorge.no).

Sweden (lag (1981:739) and förordning (1981:1057) om ersättning för inkassokostnader, inkassolagen,
räntelagen):

- A written payment reminder ("påminnelseavgift") may cost at most SEK 60, only if agreed at the latest
  when the debt arose, and only for measures after the due date (imy.se 2023, kredinor.se,
  vardgivarguiden.se 2021). An "inkassokrav" may cost at most SEK 180 (imy.se). God inkassosed: its deadline
  should not be shorter than eight days from sending (imy.se; Datainspektionen's general advice). The law
  sets no maximum number of reminders that we could find.
- Late-payment interest ("dröjsmålsränta") is the Riksbank reference rate plus eight percentage points
  (räntelagen 6 §), the reference rate being set per half-year (mystep.se table, capway.se).

Denmark (renteloven § 5 and § 9 b, inkassoloven § 10):

- A reminder fee ("rykkergebyr") may be at most DKK 100, for at most three reminders per claim sent at least
  ten days apart (renteloven § 9 b; odsherred.dk rates 2020-2021, elov.dk commentary). Whether the first
  reminder must also wait ten days after the due date is not verified; we require it to be after the due
  date.
- Before debt collection, a demand letter ("påkravsskrivelse", inkassoloven § 10 stk. 3) must give at least
  ten days from sending (elov.dk, likvido.com).
- Late-payment interest ("morarente") is Nationalbanken's lending rate per 1 January and 1 July plus eight
  percentage points (renteloven § 5); only the first half of 2024 is verified here (11.75 %,
  selandiaadvokater.dk). Danish practice often counts 360 days a year; Abo counts days/365.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from itertools import pairwise
from typing import Literal, TypeVar

from chalicelib.money import Currency, Money


class UnknownDunningLimitError(LookupError):
    """No limits (or interest rate) for a country on a date. ``reason`` says which is unknown."""

    def __init__(self, what: str, country: str, on: date, reason: Literal["country", "date"]) -> None:
        super().__init__(f"no {what} for country {country!r} on {on.isoformat()} ({reason})")
        self.country = country
        self.on = on
        self.reason = reason


class OverlappingRowsError(ValueError):
    """Two rows of one country are valid on the same day."""


@dataclass(frozen=True, slots=True)
class DunningLimits:
    """What the law of ``country`` allows a dunning plan on days in ``[valid_from, valid_to)``.

    ``max_reminder_fee`` applies to each reminder, ``max_notice_fee`` to the debt collection notice (None:
    no fee may be charged for it). ``min_fee_days_after_due``: a fee only on a step at least that many days
    after the due date. ``max_fees``: fee-carrying steps per claim (None: no limit known).
    ``min_days_between_fees``: between two fee-carrying steps (None: no limit known).
    """

    country: str
    currency: Currency
    valid_from: date
    valid_to: date | None
    max_reminder_fee: Money
    max_notice_fee: Money | None
    min_fee_days_after_due: int
    min_notice_deadline_days: int
    max_fees: int | None
    min_days_between_fees: int | None
    notice_required_before_hand_off: bool
    fee_requires_prior_agreement: bool
    source: str
    debt_collection_rate: Money | None = None

    def __post_init__(self) -> None:
        _check_validity(self.country, self.valid_from, self.valid_to)

    def applies_on(self, day: date) -> bool:
        """True if ``day`` lies in ``[valid_from, valid_to)``."""
        return _applies(self.valid_from, self.valid_to, day)


@dataclass(frozen=True, slots=True)
class InterestRateRow:
    """The statutory late-payment interest rate in ``country`` on days in ``[valid_from, valid_to)``,
    in basis points a year (1200 is 12 %)."""

    country: str
    basis_points: int
    valid_from: date
    valid_to: date | None
    source: str

    def __post_init__(self) -> None:
        _check_validity(self.country, self.valid_from, self.valid_to)
        if not 0 <= self.basis_points <= 10_000:
            raise ValueError("an interest rate lies between 0 and 100 %")

    def applies_on(self, day: date) -> bool:
        """True if ``day`` lies in ``[valid_from, valid_to)``."""
        return _applies(self.valid_from, self.valid_to, day)

    @property
    def fraction(self) -> Fraction:
        """The yearly rate as an exact fraction."""
        return Fraction(self.basis_points, 10_000)


def _check_validity(country: str, valid_from: date, valid_to: date | None) -> None:
    if len(country) != 2 or not (country.isascii() and country.isupper()):
        raise ValueError(f"country must be an upper-case ISO 3166 alpha-2 code, got {country!r}")
    if valid_to is not None and valid_to <= valid_from:
        raise ValueError(f"valid_to {valid_to} must be after valid_from {valid_from}")


def _applies(valid_from: date, valid_to: date | None, day: date) -> bool:
    return valid_from <= day and (valid_to is None or day < valid_to)


Row = TypeVar("Row", DunningLimits, InterestRateRow)


def _sorted_by_country(rows: Iterable[Row], what: str) -> dict[str, tuple[Row, ...]]:
    by_country: dict[str, list[Row]] = {}
    for row in rows:
        by_country.setdefault(row.country, []).append(row)
    for country, country_rows in by_country.items():
        country_rows.sort(key=lambda row: row.valid_from)
        for earlier, later in pairwise(country_rows):
            if earlier.valid_to is None or later.valid_from < earlier.valid_to:
                raise OverlappingRowsError(f"{country} {what}: {earlier} overlaps {later}")
    return {country: tuple(country_rows) for country, country_rows in by_country.items()}


class LimitsTable:
    """Dunning limits per country and day; at most one row per country and day."""

    def __init__(self, rows: Iterable[DunningLimits]) -> None:
        self._rows: Mapping[str, tuple[DunningLimits, ...]] = _sorted_by_country(rows, "limits")

    def resolve(self, country: str, on: date) -> DunningLimits:
        """The limits in ``country`` on day ``on``."""
        country = country.strip().upper()
        if country not in self._rows:
            raise UnknownDunningLimitError("dunning limits", country, on, "country")
        for row in self._rows[country]:
            if row.applies_on(on):
                return row
        raise UnknownDunningLimitError("dunning limits", country, on, "date")


@dataclass(frozen=True, slots=True)
class RateSpan:
    """``rate`` applies on the days ``[start, end)``."""

    start: date
    end: date
    rate: InterestRateRow


class InterestRateTable:
    """Late-payment interest rates per country and day; at most one row per country and day."""

    def __init__(self, rows: Iterable[InterestRateRow]) -> None:
        self._rows: Mapping[str, tuple[InterestRateRow, ...]] = _sorted_by_country(rows, "interest rates")

    def merged(self, rows: Iterable[InterestRateRow]) -> InterestRateTable:
        """A new table with ``rows`` added (e.g. the next half-year's rate once it is set)."""
        return InterestRateTable(
            [*(row for country_rows in self._rows.values() for row in country_rows), *rows]
        )

    def resolve(self, country: str, on: date) -> InterestRateRow:
        """The rate in ``country`` on day ``on``."""
        country = country.strip().upper()
        if country not in self._rows:
            raise UnknownDunningLimitError("late-payment interest rate", country, on, "country")
        for row in self._rows[country]:
            if row.applies_on(on):
                return row
        raise UnknownDunningLimitError("late-payment interest rate", country, on, "date")

    def spans(self, country: str, start: date, end: date) -> list[RateSpan]:
        """The days ``[start, end)`` cut where the rate changes; raises if any day has no rate."""
        spans: list[RateSpan] = []
        day = start
        while day < end:
            row = self.resolve(country, day)
            span_end = end if row.valid_to is None else min(end, row.valid_to)
            spans.append(RateSpan(day, span_end, row))
            day = span_end
        return spans


def _nok(kroner: int) -> Money:
    return Money(kroner * 100, Currency.NOK)


NORDIC_LIMITS: tuple[DunningLimits, ...] = (
    DunningLimits(
        country="NO",
        currency=Currency.NOK,
        valid_from=date(2017, 1, 1),
        valid_to=date(2020, 10, 1),
        max_reminder_fee=_nok(70),
        max_notice_fee=_nok(70),
        debt_collection_rate=_nok(700),
        source="inkassoforskriften § 1-2: 1/10 of inkassosatsen NOK 700 (sticos.no, sergel.no 2020)",
        min_fee_days_after_due=14,
        min_notice_deadline_days=14,
        max_fees=2,
        min_days_between_fees=None,
        notice_required_before_hand_off=True,
        fee_requires_prior_agreement=False,
    ),
    DunningLimits(
        country="NO",
        currency=Currency.NOK,
        valid_from=date(2020, 10, 1),
        valid_to=date(2026, 1, 1),
        max_reminder_fee=_nok(35),
        max_notice_fee=_nok(35),
        debt_collection_rate=_nok(700),
        source="inkassoforskriften amended 19 Jun 2020, claims due from 1 Oct 2020 (lindorff.no, sergel.no)",
        min_fee_days_after_due=14,
        min_notice_deadline_days=14,
        max_fees=2,
        min_days_between_fees=None,
        notice_required_before_hand_off=True,
        fee_requires_prior_agreement=False,
    ),
    DunningLimits(
        country="NO",
        currency=Currency.NOK,
        valid_from=date(2026, 1, 1),
        valid_to=None,
        # The rate rose to 750 (kred.no, amili.no); the fee cap is kept at the last verified NOK 35.
        max_reminder_fee=_nok(35),
        max_notice_fee=_nok(35),
        debt_collection_rate=_nok(750),
        source="inkassosats NOK 750 from 1 Jan 2026 (kred.no, blog.amili.no); fee cap kept at NOK 35",
        min_fee_days_after_due=14,
        min_notice_deadline_days=14,
        max_fees=2,
        min_days_between_fees=None,
        notice_required_before_hand_off=True,
        fee_requires_prior_agreement=False,
    ),
    DunningLimits(
        country="SE",
        currency=Currency.SEK,
        valid_from=date(2021, 12, 20),
        valid_to=None,
        max_reminder_fee=Money(6000, Currency.SEK),
        max_notice_fee=Money(18000, Currency.SEK),
        source="lag (1981:739), förordning (1981:1057): påminnelse SEK 60, inkassokrav SEK 180 (imy.se)",
        min_fee_days_after_due=1,
        min_notice_deadline_days=8,
        max_fees=None,
        min_days_between_fees=None,
        notice_required_before_hand_off=False,
        fee_requires_prior_agreement=True,
    ),
    DunningLimits(
        country="DK",
        currency=Currency.DKK,
        valid_from=date(2020, 1, 1),
        valid_to=None,
        max_reminder_fee=Money(10000, Currency.DKK),
        max_notice_fee=Money(10000, Currency.DKK),
        source="renteloven § 9 b (DKK 100, at most 3, 10 days apart); inkassoloven § 10 stk. 3 (10 days)",
        min_fee_days_after_due=1,
        min_notice_deadline_days=10,
        max_fees=3,
        min_days_between_fees=10,
        notice_required_before_hand_off=True,
        fee_requires_prior_agreement=False,
    ),
)


def _rate(
    country: str, percent: str, valid_from: date, valid_to: date | None, source: str
) -> InterestRateRow:
    whole, _, decimals = percent.partition(".")
    basis_points = int(whole) * 100 + int((decimals + "00")[:2])
    return InterestRateRow(country, basis_points, valid_from, valid_to, source)


_NO_TABLE = "forsinkelsesrente.net (Finansdepartementet's half-yearly regulations)"
_SE_TABLE = "referensränta + 8 (räntelagen 6 §); reference rates from mystep.se"

NORDIC_INTEREST_ROWS: tuple[InterestRateRow, ...] = (
    # Norway. 2024H2 is not seen in a source, but the policy rate was 4.5 % from Dec 2023 to Jun 2025 and
    # both regulations around it say 12.5 %. 2025H2 (FOR-2025-06-23-1321) is not encoded: its figure was
    # not found, and it depends on a rate cut in June 2025. 2026H2 is not encoded either.
    _rate("NO", "9.50", date(2020, 1, 1), date(2020, 7, 1), _NO_TABLE),
    _rate("NO", "8.00", date(2020, 7, 1), date(2022, 1, 1), _NO_TABLE),
    _rate("NO", "8.50", date(2022, 1, 1), date(2022, 7, 1), _NO_TABLE),
    _rate("NO", "9.25", date(2022, 7, 1), date(2023, 1, 1), _NO_TABLE),
    _rate("NO", "10.75", date(2023, 1, 1), date(2023, 7, 1), _NO_TABLE),
    _rate("NO", "11.75", date(2023, 7, 1), date(2024, 1, 1), _NO_TABLE),
    _rate("NO", "12.50", date(2024, 1, 1), date(2025, 1, 1), "regjeringen.no 2024H1; 2024H2 inferred"),
    _rate("NO", "12.50", date(2025, 1, 1), date(2025, 7, 1), "FOR-2024-12-19-3279 (lovdata.no)"),
    _rate("NO", "12.00", date(2026, 1, 1), date(2026, 7, 1), "kred.no: 12.00 % for the first half of 2026"),
    # Sweden.
    _rate("SE", "8.50", date(2022, 7, 1), date(2023, 1, 1), _SE_TABLE),
    _rate("SE", "10.50", date(2023, 1, 1), date(2023, 7, 1), _SE_TABLE),
    _rate("SE", "11.50", date(2023, 7, 1), date(2024, 1, 1), _SE_TABLE),
    _rate("SE", "12.00", date(2024, 1, 1), date(2025, 1, 1), _SE_TABLE),
    _rate("SE", "11.00", date(2025, 1, 1), date(2025, 7, 1), _SE_TABLE),
    _rate("SE", "10.00", date(2025, 7, 1), date(2026, 7, 1), _SE_TABLE),
    # Denmark.
    _rate("DK", "11.75", date(2024, 1, 1), date(2024, 7, 1), "renteloven § 5; selandiaadvokater.dk"),
)

DEFAULT_LIMITS = LimitsTable(NORDIC_LIMITS)
DEFAULT_INTEREST_RATES = InterestRateTable(NORDIC_INTEREST_ROWS)
