"""Money as integer minor units plus an ISO 4217 currency; VAT and rounding helpers.

Rounding rule (one for the whole platform): half away from zero on the exact rational value, the way
Norwegian, Swedish and Danish invoices round øre. VAT is computed per line; invoice totals are sums of
line amounts, so they equal the sum of their lines to the øre.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

MAX_AMOUNT = 99_999_999_999
"""The largest single amount in minor units (999 999 999.99 NOK): of one payment, price, fee or line. Far
above any subscription's, and far below where sums of many lose meaning; an OCR file's 17-digit amount field
or a typo can carry more. Totals and balances, being sums, may exceed it."""


def is_within_amount_bound(amount: int) -> bool:
    """True when a single amount (negative for a reversal or credit) lies within :data:`MAX_AMOUNT`."""
    return -MAX_AMOUNT <= amount <= MAX_AMOUNT


class Currency(StrEnum):
    """The currencies Abo invoices in. All have two decimals (øre, öre, cent)."""

    NOK = "NOK"
    SEK = "SEK"
    DKK = "DKK"
    EUR = "EUR"

    @property
    def minor_digits(self) -> int:
        """Digits after the decimal point (ISO 4217 minor unit)."""
        return 2


class CurrencyMismatchError(ValueError):
    """Two amounts in different currencies were combined."""


def round_half_away(value: Fraction) -> int:
    """Round an exact fraction to the nearest integer, halves away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, rest = divmod(magnitude.numerator, magnitude.denominator)
    if 2 * rest >= magnitude.denominator:
        whole += 1
    return sign * whole


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An amount of minor units (øre) in a currency."""

    amount: int
    currency: Currency

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(f"Money amount must be an int of minor units, got {type(self.amount).__name__}")

    @classmethod
    def zero(cls, currency: Currency) -> Money:
        """Nothing, in ``currency``."""
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def is_zero(self) -> bool:
        """True for an amount of 0."""
        return self.amount == 0

    def times(self, factor: int | Fraction) -> Money:
        """Multiply by an integer or an exact fraction, rounding half away from zero."""
        return Money(round_half_away(Fraction(self.amount) * factor), self.currency)

    def prorate(self, used: int, total: int) -> Money:
        """The share ``used / total`` of this amount (e.g. days of a period), rounded once."""
        if total <= 0 or used < 0:
            raise ValueError("proration needs 0 <= used and total > 0")
        return self.times(Fraction(used, total))

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split into parts proportional to ``weights`` that add up exactly (largest remainder)."""
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("allocation needs non-negative weights with a positive sum")
        total_weight = sum(weights)
        sign = -1 if self.amount < 0 else 1
        magnitude = abs(self.amount)
        exact = [Fraction(magnitude * w, total_weight) for w in weights]
        floors = [int(share) for share in exact]
        left = magnitude - sum(floors)
        by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
        for index in by_remainder[:left]:
            floors[index] += 1
        return [Money(sign * part, self.currency) for part in floors]

    def format_plain(self) -> str:
        """``1234.50 NOK``: for logs and tests; people get babel-formatted amounts."""
        sign = "-" if self.amount < 0 else ""
        whole, cents = divmod(abs(self.amount), 100)
        return f"{sign}{whole}.{cents:02d} {self.currency}"


def sum_money(amounts: Iterable[Money], currency: Currency) -> Money:
    """Sum amounts of one currency; the empty sum is zero in ``currency``."""
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


@dataclass(frozen=True, slots=True)
class VatRate:
    """A VAT rate in basis points: 2500 is 25 %, 0 is 0 %."""

    basis_points: int

    def __post_init__(self) -> None:
        if not 0 <= self.basis_points <= 10_000:
            raise ValueError("a VAT rate lies between 0 and 100 %")

    @property
    def fraction(self) -> Fraction:
        """The rate as an exact fraction."""
        return Fraction(self.basis_points, 10_000)

    @property
    def percent(self) -> str:
        """``25``, ``12.5``: for documents."""
        whole, rest = divmod(self.basis_points, 100)
        return str(whole) if rest == 0 else f"{whole}.{rest:02d}".rstrip("0")


@dataclass(frozen=True, slots=True)
class VatSplit:
    """One line's net, VAT and gross; gross is always net + VAT."""

    net: Money
    vat: Money
    gross: Money


def vat_from_net(net: Money, rate: VatRate) -> VatSplit:
    """VAT on a net amount, rounded half away from zero."""
    vat = net.times(rate.fraction)
    return VatSplit(net=net, vat=vat, gross=net + vat)


def vat_from_gross(gross: Money, rate: VatRate) -> VatSplit:
    """Split a VAT-inclusive amount: VAT = gross × rate / (1 + rate), rounded; net is the rest."""
    vat = gross.times(rate.fraction / (1 + rate.fraction))
    return VatSplit(net=gross - vat, vat=vat, gross=gross)
