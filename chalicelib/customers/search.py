"""Finding customers (Brukersøk). Every search kind is served by a key or an index, never a scan:

* ``kari@example.no``: the e-mail lookup (``EMAIL#<match key>``, case ignored: see ``email_match_key``);
* ``+47 412 34 567``: the phone partition (``PHONE#<E.164>``);
* digits: in one BatchGetItem the customer number, KID and organisation number (NO, SE, DK) lookups, then
  the invoice number per legal entity (gsi2 ``INVNO#<entity>#<n>``) and, when the digits are a valid
  Norwegian phone number, the phone partition;
* anything else: a name prefix on gsi1 (``CUSTNAME#<first two letters>``, sort key ``<name>#<id>``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LegalEntity
from chalicelib.customers.identifiers import (
    InvalidIdentifierError,
    email_match_keys,
    normalise_organisation_number,
    normalise_phone_number,
)
from chalicelib.customers.models import Customer
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore

MIN_NAME_PREFIX = 2
ORG_COUNTRIES = ("NO", "SE", "DK")
MAX_LEGAL_ENTITIES = 100
# Letters of the Nordic alphabets: kept as they are, since å is not a, nor ø o, to a Nordic reader.
_NORDIC_LETTERS = frozenset("æøåäö")
_SPACES = re.compile(r"\s+")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
_NUMBER_PUNCTUATION = re.compile(r"[\s\-.]")


def normalise_name(name: str) -> str:
    """The form a name is indexed and searched by: Unicode NFC, case-folded, whitespace trimmed and collapsed
    to single spaces, accents removed (``é`` → ``e``, ``ü`` → ``u``) except on the Nordic letters æ, ø, å,
    ä and ö, which stay as they are. ``"  Åse  MÜLLER-Berg "`` → ``"åse muller-berg"``."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    kept = []
    for char in folded:
        if char in _NORDIC_LETTERS:
            kept.append(char)
            continue
        kept.extend(part for part in unicodedata.normalize("NFD", char) if not unicodedata.combining(part))
    return _SPACES.sub(" ", "".join(kept)).strip()


class SearchKind(StrEnum):
    """What a search text is taken to be."""

    EMAIL = "email"
    PHONE = "phone"
    NUMBER = "number"
    NAME = "name"


@dataclass(frozen=True)
class SearchQuery:
    """A classified search: ``value`` is the e-mail, phone text, digits or normalised name prefix."""

    kind: SearchKind
    value: str


def classify_search(text: str) -> SearchQuery:
    """What to look for: ``@`` means an e-mail, a leading ``+`` a phone number, digits (spaces, dots and
    hyphens allowed) a number of some kind, anything else a name prefix."""
    stripped = text.strip()
    if "@" in stripped:
        return SearchQuery(SearchKind.EMAIL, stripped)
    if stripped.startswith("+") and _PHONE_PUNCTUATION.sub("", stripped[1:]).isdigit():
        return SearchQuery(SearchKind.PHONE, stripped)
    digits = _NUMBER_PUNCTUATION.sub("", stripped)
    if digits.isascii() and digits.isdigit():
        return SearchQuery(SearchKind.NUMBER, digits)
    return SearchQuery(SearchKind.NAME, normalise_name(stripped))


def customer_id_of(target_pk: str | None) -> str | None:
    """The customer a lookup item points at (None when it points at something else)."""
    prefix = keys.customer("").pk
    return target_pk.removeprefix(prefix) if target_pk and target_pk.startswith(prefix) else None


class CustomerSearch:
    """Finds customers by e-mail, phone, number or name prefix."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    def search(self, text: str, limit: int) -> list[Customer]:
        """Customers matching ``text`` (see the module docstring), de-duplicated, at most ``limit``."""
        query = classify_search(text)
        if query.kind == SearchKind.EMAIL:
            ids = self._by_email(query.value)
        elif query.kind == SearchKind.PHONE:
            ids = self._by_phone(query.value)
        elif query.kind == SearchKind.NUMBER:
            ids = self._by_number(query.value)
        else:
            ids = self._by_name(query.value, limit)
        return self._customers(list(dict.fromkeys(ids))[:limit])

    def _customers(self, ids: list[str]) -> list[Customer]:
        wanted = [(key.pk, key.sk) for key in map(keys.customer, ids)]
        found = self._store.batch_get(wanted)
        return [found[key].document(Customer) for key in wanted if key in found]

    def _by_email(self, text: str) -> list[str]:
        try:
            match_keys = email_match_keys(text)
        except InvalidIdentifierError:
            return []
        pages = [self._store.query(keys.email_lookup(key)) for key in match_keys]
        return [i for page in pages for item in page.items if (i := customer_id_of(item.target_pk))]

    def _by_phone(self, text: str, country: str = "NO") -> list[str]:
        try:
            phone = normalise_phone_number(text, country)
        except InvalidIdentifierError:
            return []
        page = self._store.query(keys.phone_lookup(phone, "").pk)
        return [i for item in page.items if (i := customer_id_of(item.target_pk))]

    def _by_name(self, prefix: str, limit: int) -> list[str]:
        if len(prefix) < MIN_NAME_PREFIX:
            message = f"a name search needs at least {MIN_NAME_PREFIX} letters"
            raise ValidationFailedError(message, [FieldError("q", message, "too_short")])
        partition = keys.customer_name_entry("", prefix).gsi1
        assert partition is not None
        page = self._store.query(partition[0], prefix, index="gsi1", limit=limit)
        return [i for item in page.items if (i := customer_id_of(item.target_pk))]

    def _by_number(self, digits: str) -> list[str]:
        """Customer number, organisation number, KID, invoice number and phone, in that order."""
        lookups: list[tuple[str, str]] = []
        if len(digits) <= 18:
            lookups.append((keys.customer_number_lookup(int(digits)), "LOOKUP"))
        for country in ORG_COUNTRIES:
            try:
                lookups.append(
                    (keys.org_lookup(country, normalise_organisation_number(digits, country)), "LOOKUP")
                )
            except InvalidIdentifierError:
                continue
        kid = (keys.kid_lookup(digits), "LOOKUP")
        found = self._store.batch_get([*lookups, kid])
        ids = [i for key in lookups if key in found and (i := customer_id_of(found[key].target_pk))]
        kid_item = found.get(kid)
        invoice_keys: list[tuple[str | None, str | None]] = []
        if kid_item is not None:
            invoice_keys.append((kid_item.target_pk, kid_item.target_sk))
        invoice_keys.extend(self._invoices_numbered(digits))
        ids.extend(self._invoice_customers(invoice_keys))
        ids.extend(self._by_phone(digits))
        return ids

    def _invoices_numbered(self, digits: str) -> list[tuple[str | None, str | None]]:
        if len(digits) > 18:
            return []
        entities = self._store.page("ENTITIES", LegalEntity, MAX_LEGAL_ENTITIES, None).items
        found: list[tuple[str | None, str | None]] = []
        for entity in entities:
            page = self._store.query(keys.invoice_number_key(entity.id, int(digits)), index="gsi2", limit=10)
            found.extend((item.pk, item.sk) for item in page.items)
        return found

    def _invoice_customers(self, invoice_keys: Iterable[tuple[str | None, str | None]]) -> list[str]:
        wanted = [(pk, sk) for pk, sk in invoice_keys if pk and sk]
        found = self._store.batch_get(wanted)
        return [found[key].document(Invoice).customer_id for key in wanted if key in found]
