"""Validation and normalisation of the identifiers that name a customer.

Every function takes raw input and returns the one normalised form that is stored and compared, or raises
:class:`InvalidIdentifierError`. Being a ``ValueError``, it works as a pydantic validator as it is (pydantic
names the field); a service maps it to a :class:`~chalicelib.errors.FieldError` with
:meth:`InvalidIdentifierError.to_field_error`. No check here touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

import phonenumbers
from stdnum.dk import cvr as dk_cvr
from stdnum.exceptions import InvalidChecksum, InvalidFormat, InvalidLength, ValidationError
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr

from chalicelib.errors import FieldError

DEFAULT_COUNTRY = "NO"

_ORGANISATION_NUMBER_VALIDATORS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {"NO": no_orgnr.validate, "SE": se_orgnr.validate, "DK": dk_cvr.validate}
)
_ORGANISATION_NUMBER_FORMATTERS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {"NO": no_orgnr.format, "SE": se_orgnr.format, "DK": dk_cvr.compact}
)

_MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit less the angle brackets
_MAX_LOCAL_PART_LENGTH = 64
_MAX_LABEL_LENGTH = 63
# Printable ASCII or any non-ASCII character (RFC 6531 allows UTF-8 local parts), minus what needs quoting.
_LOCAL_PART = re.compile(r"[^\s\x00-\x1f\x7f\"(),:;<>@\[\\\]]+")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")


class InvalidIdentifierError(ValueError):
    """An identifier failed validation. ``kind`` names the identifier, ``code`` the rule it broke."""

    def __init__(self, kind: str, code: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message

    def to_field_error(self, field: str) -> FieldError:
        """This error as the :class:`FieldError` of input field ``field``."""
        return FieldError(field=field, message=self.message, code=self.code)


def _country(country: str) -> str:
    return country.strip().upper()


def normalise_organisation_number(number: str, country: str = DEFAULT_COUNTRY) -> str:
    """The digits of a NO (orgnr, 9), SE (organisationsnummer, 10) or DK (CVR, 8) organisation number."""
    validate = _ORGANISATION_NUMBER_VALIDATORS.get(_country(country))
    if validate is None:
        raise InvalidIdentifierError(
            "organisation_number",
            "unsupported_country",
            f"organisation numbers of {country!r} are not supported (NO, SE, DK are)",
        )
    try:
        return validate(number)
    except InvalidChecksum:
        code, message = "invalid_checksum", "the check digit does not match"
    except InvalidLength:
        code, message = "invalid_length", "the number has the wrong number of digits"
    except InvalidFormat:
        code, message = "invalid_format", "the number must be digits"
    except ValidationError:
        code, message = "invalid", "not a valid organisation number"
    raise InvalidIdentifierError("organisation_number", code, f"{message} ({_country(country)})")


def format_organisation_number(number: str, country: str = DEFAULT_COUNTRY) -> str:
    """The usual printed form: ``974 760 673`` (NO), ``556036-0793`` (SE), ``13585628`` (DK)."""
    digits = normalise_organisation_number(number, country)
    return _ORGANISATION_NUMBER_FORMATTERS[_country(country)](digits)


def _invalid_email(message: str) -> InvalidIdentifierError:
    return InvalidIdentifierError("email", "invalid_format", message)


def _ascii_domain(domain: str) -> str:
    try:
        # Python's codec is IDNA 2003; good enough to reject what no mail server would accept.
        return domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise _invalid_email("the domain is not a valid host name") from error


def normalise_email(email: str) -> str:
    """``Local@Example.NO`` → ``Local@example.no``: trimmed, domain lower-cased, syntax checked.

    The local part keeps its case: RFC 5321 leaves its meaning to the receiving server.
    """
    candidate = email.strip()
    if len(candidate) > _MAX_EMAIL_LENGTH:
        raise _invalid_email(f"an e-mail address has at most {_MAX_EMAIL_LENGTH} characters")
    local, at, domain = candidate.rpartition("@")
    if not at or not local or not domain:
        raise _invalid_email("an e-mail address looks like name@example.no")
    if len(local) > _MAX_LOCAL_PART_LENGTH or not _LOCAL_PART.fullmatch(local):
        raise _invalid_email("the part before @ is not valid")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise _invalid_email("the part before @ is not valid")
    domain = domain.lower()
    labels = _ascii_domain(domain).split(".")
    if len(labels) < 2 or any(
        len(label) > _MAX_LABEL_LENGTH or not _LABEL.fullmatch(label) for label in labels
    ):
        raise _invalid_email("the domain is not a valid host name")
    if labels[-1].isdigit():
        raise _invalid_email("the domain must be a name, not an IP address")
    return f"{local}@{domain}"


def email_match_key(email: str) -> str:
    """The key e-mail addresses are matched by: ``Reader@Example.NO`` → ``reader@example.no``.

    The normalised address with its local part lower-cased as well: RFC 5321 lets a server tell ``Reader``
    from ``reader``, but no mail provider our customers use does, and a customer who types capitals is the
    same customer. Lookups, order blocks, search and the access check match on this key; the customer's
    address is kept as typed (:func:`normalise_email`) for display and sending.
    """
    return normalise_email(email).lower()


def email_match_keys(email: str) -> tuple[str, ...]:
    """The keys an address may be stored under, the current one first: :func:`email_match_key`, then, when it
    differs, the normalised address as typed, which is how lookups and blocks were keyed before matching
    ignored case (entries written then are found when the address is typed as it was stored)."""
    return tuple(dict.fromkeys((email_match_key(email), normalise_email(email))))


def normalise_phone_number(number: str, country: str = DEFAULT_COUNTRY) -> str:
    """The E.164 form (``+4741234567``); a number without country code is read as ``country``'s."""
    try:
        parsed = phonenumbers.parse(number, _country(country))
    except phonenumbers.NumberParseException as error:
        raise InvalidIdentifierError("phone_number", "invalid_format", "not a phone number") from error
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidIdentifierError(
            "phone_number", "invalid_number", "not a valid phone number for its country"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
