"""KID (kundeidentifikasjon): the numeric payment reference printed on a giro and echoed back by the bank.

A KID is 2 to 25 characters: base digits followed by one check character. Two check algorithms are in use,
and the biller agrees one of them with Nets for each agreement:

- MOD10 (Luhn): the check is always a digit.
- MOD11: weights 2, 3, 4, 5, 6, 7, 2, 3, ... from the rightmost base digit; sum modulo 11; remainder 0
  gives check digit 0, otherwise the check is ``11 - remainder``, where 10 is written ``-``.

The invoice KID layout is ``seller's KID prefix + customer number + invoice number + check``, each part of
fixed width; see :class:`KidLayout`. The seller's prefix is what keeps KIDs unique across sellers: customer
numbers are platform-wide, invoice numbers are each seller's own, so without it two sellers' invoices of
one customer with the same number would share a KID.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stdnum import luhn

MIN_KID_LENGTH = 2
MAX_KID_LENGTH = 25

_MOD11_WEIGHTS = (2, 3, 4, 5, 6, 7)
_MOD11_TEN = "-"


class KidAlgorithm(StrEnum):
    """The check algorithm of a KID agreement."""

    MOD10 = "MOD10"
    MOD11 = "MOD11"


class InvalidKidError(ValueError):
    """A KID cannot be built from the given digits or numbers, or does not follow the layout."""


def _is_ascii_digits(text: str) -> bool:
    # str.isdigit() also accepts other scripts' digits and superscripts, which no bank would echo back.
    return text.isascii() and text.isdigit()


def _mod11_check(base_digits: str) -> str:
    total = sum(
        int(digit) * _MOD11_WEIGHTS[position % len(_MOD11_WEIGHTS)]
        for position, digit in enumerate(reversed(base_digits))
    )
    remainder = total % 11
    if remainder == 0:
        return "0"
    check = 11 - remainder
    return _MOD11_TEN if check == 10 else str(check)


def kid_check_character(base_digits: str, algorithm: KidAlgorithm) -> str:
    """The check character (a digit, or ``-`` for MOD11's value 10) that follows ``base_digits``."""
    if not _is_ascii_digits(base_digits):
        raise InvalidKidError(f"KID base must be digits, got {base_digits!r}")
    if algorithm is KidAlgorithm.MOD10:
        return str(luhn.calc_check_digit(base_digits))
    return _mod11_check(base_digits)


def make_kid(base_digits: str, algorithm: KidAlgorithm) -> str:
    """``base_digits`` followed by its check character; the result is 2 to 25 characters long."""
    if not MIN_KID_LENGTH - 1 <= len(base_digits) <= MAX_KID_LENGTH - 1:
        raise InvalidKidError(
            f"KID base must be {MIN_KID_LENGTH - 1} to {MAX_KID_LENGTH - 1} digits, got {len(base_digits)}"
        )
    return base_digits + kid_check_character(base_digits, algorithm)


def is_valid_kid(kid: str, algorithm: KidAlgorithm | None = None) -> bool:
    """True if ``kid`` has a valid length, digits and check under ``algorithm`` (either one if None)."""
    if algorithm is None:
        return bool(kid_algorithms_of(kid))
    if not MIN_KID_LENGTH <= len(kid) <= MAX_KID_LENGTH:
        return False
    base, check = kid[:-1], kid[-1]
    if not _is_ascii_digits(base):
        return False
    return kid_check_character(base, algorithm) == check


def kid_algorithms_of(kid: str) -> frozenset[KidAlgorithm]:
    """The algorithms under which ``kid`` is valid: none, one, or both (about one KID in eleven)."""
    return frozenset(algorithm for algorithm in KidAlgorithm if is_valid_kid(kid, algorithm))


@dataclass(frozen=True, slots=True)
class KidParts:
    """What an invoice KID encodes."""

    seller_prefix: int
    customer_number: int
    invoice_number: int


@dataclass(frozen=True, slots=True)
class KidLayout:
    """Fixed-width invoice KID: the seller's KID prefix zero-padded to ``seller_width`` digits, the
    customer number zero-padded to ``customer_width`` digits, the invoice number zero-padded to
    ``invoice_width`` digits, then one check character.

    The seller's prefix is unique per seller (see :mod:`chalicelib.billing.issuing`), so two sellers'
    KIDs never collide although their invoice numbers do. The fixed width is what lets an incoming OCR
    payment be split back into seller, customer and invoice without a lookup, and keeps every KID of an
    agreement the same length (Nets agreements may fix the length). MOD10 is the default because its
    check is always a digit; MOD11 may end in ``-``.
    """

    seller_width: int = 4
    customer_width: int = 8
    invoice_width: int = 8
    algorithm: KidAlgorithm = KidAlgorithm.MOD10

    def __post_init__(self) -> None:
        if self.seller_width < 1 or self.customer_width < 1 or self.invoice_width < 1:
            raise ValueError("KID layout widths must be at least 1")
        if self.length > MAX_KID_LENGTH:
            raise ValueError(f"KID layout gives {self.length} characters, at most {MAX_KID_LENGTH} allowed")

    @property
    def length(self) -> int:
        """Characters in every KID of this layout, check included."""
        return self.seller_width + self.customer_width + self.invoice_width + 1

    def make(self, seller_prefix: int, customer_number: int, invoice_number: int) -> str:
        """The KID for an invoice of a customer with the seller whose KID prefix is ``seller_prefix``."""
        base = (
            _pad(seller_prefix, self.seller_width, "seller prefix")
            + _pad(customer_number, self.customer_width, "customer number")
            + _pad(invoice_number, self.invoice_width, "invoice number")
        )
        return make_kid(base, self.algorithm)

    def parse(self, kid: str) -> KidParts:
        """Seller prefix, customer and invoice number of a KID of this layout; raises
        :class:`InvalidKidError`."""
        if len(kid) != self.length or not is_valid_kid(kid, self.algorithm):
            raise InvalidKidError(f"{kid!r} is not a {self.length}-character {self.algorithm} KID")
        customer_at = self.seller_width
        invoice_at = customer_at + self.customer_width
        return KidParts(
            seller_prefix=int(kid[:customer_at]),
            customer_number=int(kid[customer_at:invoice_at]),
            invoice_number=int(kid[invoice_at : self.length - 1]),
        )


DEFAULT_KID_LAYOUT = KidLayout()


def _pad(number: int, width: int, what: str) -> str:
    if number < 0:
        raise InvalidKidError(f"{what} must not be negative, got {number}")
    digits = str(number)
    if len(digits) > width:
        raise InvalidKidError(f"{what} {number} does not fit in {width} digits")
    return digits.zfill(width)


def make_invoice_kid(
    seller_prefix: int, customer_number: int, invoice_number: int, layout: KidLayout = DEFAULT_KID_LAYOUT
) -> str:
    """The KID for ``invoice_number`` of ``customer_number`` with the seller of ``seller_prefix``, in
    ``layout`` (4 + 8 + 8 digits + MOD10 check). Invoice number 0 is the customer's own KID with that
    seller (what an AvtaleGiro mandate is registered with)."""
    return layout.make(seller_prefix, customer_number, invoice_number)


def customer_number_in(kid: str | None, layout: KidLayout = DEFAULT_KID_LAYOUT) -> int | None:
    """The customer number an invoice KID carries, or None when it is not a KID of ``layout``."""
    if not kid:
        return None
    try:
        return layout.parse(kid).customer_number
    except InvalidKidError:
        return None
