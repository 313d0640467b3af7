"""VAT rates as effective-dated data: one row per (country, code, validity), looked up by date.

Validity is half-open, ``[valid_from, valid_to)``, like every period in Abo; ``valid_to`` None is open-ended.
``valid_from`` is the date from which the table vouches for the rate; the rate may be older. A date the table
does not cover raises :class:`UnknownVatRateError` rather than guessing.

Codes: ``standard``; ``food`` (foodstuffs); ``low`` (the lowest positive reduced rate: transport, hotels,
cinema; in Sweden also books and culture); ``news`` (newspapers and periodicals, printed and digital);
``exempt`` (outside VAT or zero-rated without a dedicated code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from itertools import pairwise
from typing import Literal

from chalicelib.money import VatRate


class VatCode(StrEnum):
    """What a product line is taxed as; the rate follows from country and date."""

    STANDARD = "standard"
    FOOD = "food"
    LOW = "low"
    NEWS = "news"
    EXEMPT = "exempt"


class UnknownVatRateError(LookupError):
    """No rate for a country, code and date. ``reason`` says which of the three is unknown."""

    def __init__(self, country: str, code: str, on: date, reason: Literal["country", "code", "date"]) -> None:
        super().__init__(f"no VAT rate for country {country!r}, code {code!r} on {on.isoformat()} ({reason})")
        self.country = country
        self.code = code
        self.on = on
        self.reason = reason


class OverlappingVatRatesError(ValueError):
    """Two rows of one country and code are valid on the same day."""


@dataclass(frozen=True, slots=True)
class VatRateRow:
    """``rate`` applies to ``code`` in ``country`` on days in ``[valid_from, valid_to)``."""

    country: str
    code: VatCode
    rate: VatRate
    valid_from: date
    valid_to: date | None = None

    def __post_init__(self) -> None:
        if len(self.country) != 2 or not (self.country.isascii() and self.country.isupper()):
            raise ValueError(f"country must be an upper-case ISO 3166 alpha-2 code, got {self.country!r}")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} must be after valid_from {self.valid_from}")

    def applies_on(self, day: date) -> bool:
        """True if ``day`` lies in ``[valid_from, valid_to)``."""
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def overlaps(self, other: VatRateRow) -> bool:
        """True if both rows are valid on some common day (country and code are not compared)."""
        return _before(self.valid_from, other.valid_to) and _before(other.valid_from, self.valid_to)

    def without(self, other: VatRateRow) -> tuple[VatRateRow, ...]:
        """What is left of this row's validity once ``other``'s is cut out: zero, one or two rows."""
        if not self.overlaps(other):
            return (self,)
        pieces: list[VatRateRow] = []
        if self.valid_from < other.valid_from:
            pieces.append(replace(self, valid_to=other.valid_from))
        if other.valid_to is not None and _before(other.valid_to, self.valid_to):
            pieces.append(replace(self, valid_from=other.valid_to))
        return tuple(pieces)


def _before(day: date, end: date | None) -> bool:
    return end is None or day < end


_Key = tuple[str, VatCode]


class VatTable:
    """An immutable set of rate rows with at most one row per country, code and day."""

    def __init__(self, rows: Iterable[VatRateRow]) -> None:
        by_key: dict[_Key, list[VatRateRow]] = {}
        for row in rows:
            by_key.setdefault((row.country, row.code), []).append(row)
        for key, key_rows in by_key.items():
            key_rows.sort(key=lambda row: row.valid_from)
            for earlier, later in pairwise(key_rows):
                if earlier.overlaps(later):
                    raise OverlappingVatRatesError(f"{key[0]} {key[1]}: {earlier} overlaps {later}")
        self._by_key: Mapping[_Key, tuple[VatRateRow, ...]] = {
            key: tuple(key_rows) for key, key_rows in by_key.items()
        }
        self._countries = frozenset(country for country, _ in self._by_key)

    @property
    def rows(self) -> tuple[VatRateRow, ...]:
        """Every row, by country, code and date."""
        return tuple(row for key in sorted(self._by_key) for row in self._by_key[key])

    def resolve(self, country: str, code: VatCode | str, on: date) -> VatRate:
        """The rate of ``code`` in ``country`` on day ``on``."""
        country = country.strip().upper()
        if country not in self._countries:
            raise UnknownVatRateError(country, str(code), on, "country")
        try:
            vat_code = VatCode(code)
        except ValueError:
            raise UnknownVatRateError(country, str(code), on, "code") from None
        for row in self._by_key.get((country, vat_code), ()):
            if row.applies_on(on):
                return row.rate
        reason: Literal["code", "date"] = "date" if (country, vat_code) in self._by_key else "code"
        raise UnknownVatRateError(country, vat_code.value, on, reason)

    def merged(self, rows: Iterable[VatRateRow]) -> VatTable:
        """A new table in which ``rows`` take precedence: an existing row of the same country and code
        keeps only the days that no new row covers. Adding a rate and overriding one are the same act."""
        new_rows = tuple(rows)
        kept: list[VatRateRow] = []
        for existing in self.rows:
            pieces = [existing]
            for new in new_rows:
                if (new.country, new.code) == (existing.country, existing.code):
                    pieces = [piece for old in pieces for piece in old.without(new)]
            kept.extend(pieces)
        return VatTable([*kept, *new_rows])


def _row(
    country: str, code: VatCode, percent: int, valid_from: date, valid_to: date | None = None
) -> VatRateRow:
    return VatRateRow(country, code, VatRate(percent * 100), valid_from, valid_to)


NORDIC_VAT_ROWS: tuple[VatRateRow, ...] = (
    # Norway (merverdiavgift). Standard 25 % since 2005, food 15 % since 2012. The low rate is 12 %
    # again since 1 Oct 2021 after the pandemic cuts; earlier history is not recorded here.
    # News: printed newspapers long zero-rated, digital news since 1 Mar 2016, digital periodicals
    # since 1 Jul 2019, the date from which the whole "news" code is 0 %.
    _row("NO", VatCode.STANDARD, 25, date(2005, 1, 1)),
    _row("NO", VatCode.FOOD, 15, date(2012, 1, 1)),
    _row("NO", VatCode.LOW, 12, date(2021, 10, 1)),
    _row("NO", VatCode.NEWS, 0, date(2019, 7, 1)),
    _row("NO", VatCode.EXEMPT, 0, date(2005, 1, 1)),
    # Sweden (moms). News is 6 %, printed and digital alike, since digital publications came down from
    # 25 % on 1 Jul 2019. Food is temporarily 6 % from 1 Apr 2026 to 31 Dec 2027 (prop. 2025/26:55),
    # then 12 % again; restaurant and catering services stay at 12 % and are not "food" here.
    _row("SE", VatCode.STANDARD, 25, date(2019, 7, 1)),
    _row("SE", VatCode.FOOD, 12, date(2019, 7, 1), date(2026, 4, 1)),
    _row("SE", VatCode.FOOD, 6, date(2026, 4, 1), date(2028, 1, 1)),
    _row("SE", VatCode.FOOD, 12, date(2028, 1, 1)),
    _row("SE", VatCode.LOW, 6, date(2019, 7, 1)),
    _row("SE", VatCode.NEWS, 6, date(2019, 7, 1)),
    _row("SE", VatCode.EXEMPT, 0, date(2019, 7, 1)),
    # Denmark (moms) has one rate, 25 %, so food and low are 25 % too. Newspapers are 0 % (printed, and
    # digital since 1 Jul 2019); other periodicals are standard-rated.
    _row("DK", VatCode.STANDARD, 25, date(2019, 7, 1)),
    _row("DK", VatCode.FOOD, 25, date(2019, 7, 1)),
    _row("DK", VatCode.LOW, 25, date(2019, 7, 1)),
    _row("DK", VatCode.NEWS, 0, date(2019, 7, 1)),
    _row("DK", VatCode.EXEMPT, 0, date(2019, 7, 1)),
)

DEFAULT_VAT_TABLE = VatTable(NORDIC_VAT_ROWS)


def resolve_vat_rate(
    country: str, code: VatCode | str, on: date, table: VatTable = DEFAULT_VAT_TABLE
) -> VatRate:
    """The VAT rate of ``code`` in ``country`` on day ``on``; raises :class:`UnknownVatRateError`."""
    return table.resolve(country, code, on)
