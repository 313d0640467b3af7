"""Customers: reading, changing (with history and moved lookups), search (Brukersøk) and lists.

Every search kind is served by a key or an index, never a scan:

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LANGUAGES, Address, LegalEntity
from chalicelib.clock import Clock
from chalicelib.customers.identifiers import (
    InvalidIdentifierError,
    email_match_key,
    email_match_keys,
    normalise_email,
    normalise_organisation_number,
    normalise_phone_number,
)
from chalicelib.customers.models import Customer, CustomerChange, CustomerType
from chalicelib.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError
from chalicelib.ids import new_id
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    Keys,
    Page,
    WriteConflictError,
    document_item,
    lookup_item,
)
from chalicelib.subscriptions.models import Subscription

MIN_NAME_PREFIX = 2
ORG_COUNTRIES = ("NO", "SE", "DK")
MAX_LEGAL_ENTITIES = 100
# Letters of the Nordic alphabets: kept as they are, since å is not a, nor ø o, to a Nordic reader.
_NORDIC_LETTERS = frozenset("æøåäö")
_SPACES = re.compile(r"\s+")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
_NUMBER_PUNCTUATION = re.compile(r"[\s\-.]")
_PATCHABLE = ("name", "email", "phone", "address", "language", "org_number", "email_opt_out", "sms_opt_out")
_NULLABLE = frozenset({"phone", "address"})


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


def _target(customer_id: str) -> Keys:
    return keys.customer(customer_id)


def name_entry(customer: Customer) -> DocumentItem:
    """The customer's entry in the name-prefix index."""
    entry = keys.customer_name_entry(customer.id, normalise_name(customer.name))
    item = lookup_item(entry.pk, _target(customer.id), sk=entry.sk)
    assert entry.gsi1 is not None
    item.gsi1pk, item.gsi1sk = entry.gsi1
    return item


def _phone_item(phone: str, customer_id: str) -> DocumentItem:
    entry = keys.phone_lookup(phone, customer_id)
    return lookup_item(entry.pk, _target(customer_id), sk=entry.sk)


def _org_item(customer: Customer) -> DocumentItem | None:
    if customer.type != CustomerType.ORGANIZATION or not customer.org_number:
        return None
    return lookup_item(keys.org_lookup(customer.country, customer.org_number), _target(customer.id))


def _email_item(customer: Customer, email: str, key: str | None = None) -> DocumentItem:
    """The customer's entry at ``email``'s match key (or at ``key``, an older key of the same address)."""
    unique = customer.type == CustomerType.PERSON
    entry = keys.email_entry(key or email_match_key(email), customer.id, unique=unique)
    return lookup_item(entry.pk, _target(customer.id), sk=entry.sk)


def new_customer_writes(customer: Customer) -> list[DocumentItem]:
    """Every item a new customer needs, to be created (pk-not-exists) in the caller's transaction: the
    profile, the e-mail entry (unique for persons), the organisation number lookup (organisations),
    the phone lookup (not unique), the customer number lookup and the name-index entry."""
    target = _target(customer.id)
    items = [
        document_item("customer", target, customer),
        _email_item(customer, customer.email),
        lookup_item(keys.customer_number_lookup(customer.number), target),
        name_entry(customer),
    ]
    org = _org_item(customer)
    if org is not None:
        items.append(org)
    if customer.phone:
        items.append(_phone_item(customer.phone, customer.id))
    return items


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailedError:
    return ValidationFailedError(message, [FieldError(field, message, code)])


def _customer_id(target_pk: str | None) -> str | None:
    prefix = keys.customer("").pk
    return target_pk.removeprefix(prefix) if target_pk and target_pk.startswith(prefix) else None


def _name(value: Any, _: str) -> str:
    text = _SPACES.sub(" ", str(value)).strip()
    if not text:
        raise _invalid("name", "a name cannot be blank", "blank")
    return text


def _language(value: Any, _: str) -> str:
    if value not in LANGUAGES:
        raise _invalid("language", f"one of {', '.join(LANGUAGES)}", "unknown")
    return str(value)


_NORMALISERS: dict[str, Callable[[Any, str], Any]] = {
    "name": _name,
    "email": lambda value, _: normalise_email(str(value)),
    "phone": lambda value, country: normalise_phone_number(str(value), country),
    "org_number": lambda value, country: normalise_organisation_number(str(value), country),
    "language": _language,
    "address": lambda value, _: Address.model_validate(value),
    "email_opt_out": lambda value, _: bool(value),
    "sms_opt_out": lambda value, _: bool(value),
}


@dataclass(frozen=True)
class _Move:
    """A lookup that moves: the new item to create, the old one to delete, and what a clash means."""

    create: DocumentItem | None
    delete: DocumentItem | None
    field: str
    unique: bool


class CustomerService:
    """Reads, changes and finds customers."""

    def __init__(self, store: DocumentStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # ---- reading -------------------------------------------------------------------------------------

    def _item(self, customer_id: str) -> DocumentItem:
        key = keys.customer(customer_id)
        item = self._store.get(key.pk, key.sk)
        if item is None or item.doc is None:
            raise NotFoundError(f"no customer {customer_id}")
        return item

    def get(self, customer_id: str) -> Customer:
        """One customer, or 404."""
        return self._item(customer_id).document(Customer)

    def history(self, customer_id: str, limit: int, cursor: str | None) -> Page[CustomerChange]:
        """The customer's changes, oldest first; 404 for an unknown customer."""
        self._item(customer_id)
        pk = keys.customer(customer_id).pk
        return self._store.query_partition(pk, "HISTORY#", CustomerChange, limit, cursor)

    def subscriptions(self, customer_id: str, limit: int, cursor: str | None) -> Page[Subscription]:
        """The customer's subscriptions, oldest first."""
        self._item(customer_id)
        return self._store.page(keys.customer(customer_id).pk, Subscription, limit, cursor, prefix="SUB#")

    def invoices(self, customer_id: str, limit: int, cursor: str | None) -> Page[Invoice]:
        """The customer's invoices, drafts and credit notes, by invoice date."""
        self._item(customer_id)
        return self._store.page(keys.customer(customer_id).pk, Invoice, limit, cursor, prefix="INV#")

    # ---- changing ------------------------------------------------------------------------------------

    def update(self, customer_id: str, fields: dict[str, Any], source: str) -> Customer:
        """Change some of name, e-mail, phone, address, language, organisation number and the notification
        opt-outs (``email_opt_out``, ``sms_opt_out``) (``None`` clears
        phone or address). Lookups move in the same transaction as the profile and its history entry; an
        e-mail or organisation number of another customer is a 409. A change to nothing writes nothing."""
        item = self._item(customer_id)
        current = item.document(Customer)
        wanted = self._normalised(current, fields)
        before = current.model_dump(mode="json")
        changed = {
            name: {"from": before[name], "to": _json(value)}
            for name, value in wanted.items()
            if _json(value) != before[name]
        }
        if not changed:
            return current
        now = self._clock.now()
        updated = Customer.model_validate(
            {**current.model_dump(), **{name: wanted[name] for name in changed}, "updated_at": now}
        )
        moves = self._moves(current, updated)
        change = CustomerChange(customer_id=customer_id, at=now, source=source, changes=changed)
        version = int(item.version)
        creates = [move.create for move in moves if move.create is not None]
        creates.append(
            document_item("customer_change", keys.customer_change(customer_id, now, new_id("chg")), change)
        )
        updates = []
        if "name" in changed:
            entry = name_entry(updated)
            updates.append(
                (
                    entry,
                    [
                        DocumentItem.kind.set(entry.kind),
                        DocumentItem.target_pk.set(entry.target_pk),
                        DocumentItem.target_sk.set(entry.target_sk),
                        DocumentItem.gsi1pk.set(entry.gsi1pk),
                        DocumentItem.gsi1sk.set(entry.gsi1sk),
                    ],
                    None,
                )
            )
        try:
            self._store.write(
                creates,
                [(document_item("customer", keys.customer(customer_id), updated, version=version), version)],
                updates=updates,
                deletes=[move.delete for move in moves if move.delete is not None],
            )
        except WriteConflictError:
            raise self._explain_conflict(customer_id, moves) from None
        return updated

    def _normalised(self, current: Customer, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - set(_PATCHABLE))
        if unknown:
            raise ValidationFailedError(
                "these fields cannot be changed",
                [FieldError(name, "not changeable", "unknown") for name in unknown],
            )
        errors: list[FieldError] = []
        wanted: dict[str, Any] = {}
        for name, value in fields.items():
            if value is None and name not in _NULLABLE:
                errors.append(FieldError(name, "cannot be removed", "required"))
                continue
            try:
                wanted[name] = self._normalised_field(current, name, value)
            except InvalidIdentifierError as error:
                errors.append(error.to_field_error(name))
            except ValidationFailedError as error:
                errors.extend(error.errors)
        if errors:
            raise ValidationFailedError("some fields are not valid", errors)
        return wanted

    @staticmethod
    def _normalised_field(current: Customer, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name == "org_number" and current.type != CustomerType.ORGANIZATION:
            raise _invalid("org_number", "only organisations have an organisation number", "not_allowed")
        return _NORMALISERS[name](value, current.country)

    @staticmethod
    def _moves(current: Customer, updated: Customer) -> list[_Move]:
        moves: list[_Move] = []
        # A change of case only keeps the match key, so the lookup stays where it is.
        if email_match_key(updated.email) != email_match_key(current.email):
            old_key, *legacy = email_match_keys(current.email)
            moves.append(
                _Move(
                    _email_item(current, updated.email),
                    _email_item(current, current.email, old_key),
                    "email",
                    unique=current.type == CustomerType.PERSON,
                )
            )
            # An entry written before matching ignored case sits at the address as typed: remove it too.
            moves.extend(
                _Move(None, _email_item(current, current.email, key), "email", unique=False) for key in legacy
            )
        if updated.phone != current.phone:
            moves.append(
                _Move(
                    _phone_item(updated.phone, current.id) if updated.phone else None,
                    _phone_item(current.phone, current.id) if current.phone else None,
                    "phone",
                    unique=False,
                )
            )
        if updated.org_number != current.org_number:
            moves.append(_Move(_org_item(updated), _org_item(current), "org_number", unique=True))
        return moves

    def _explain_conflict(self, customer_id: str, moves: list[_Move]) -> ConflictError:
        """Why the transaction failed: a unique value taken by another customer, or a concurrent change."""
        unique = [move for move in moves if move.unique and move.create is not None]
        found = self._store.batch_get((move.create.pk, move.create.sk) for move in unique if move.create)
        taken = [
            FieldError(move.field, "belongs to another customer", "taken")
            for move in unique
            if move.create is not None
            and (held := found.get((move.create.pk, move.create.sk))) is not None
            and _customer_id(held.target_pk) != customer_id
        ]
        if taken:
            names = " and ".join(
                "e-mail address" if e.field == "email" else "organisation number" for e in taken
            )
            return ConflictError(f"that {names} belongs to another customer; nothing was changed", taken)
        return ConflictError("the customer was changed at the same time; read it again and retry")

    # ---- search --------------------------------------------------------------------------------------

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
        return [i for page in pages for item in page.items if (i := _customer_id(item.target_pk))]

    def _by_phone(self, text: str, country: str = "NO") -> list[str]:
        try:
            phone = normalise_phone_number(text, country)
        except InvalidIdentifierError:
            return []
        page = self._store.query(keys.phone_lookup(phone, "").pk)
        return [i for item in page.items if (i := _customer_id(item.target_pk))]

    def _by_name(self, prefix: str, limit: int) -> list[str]:
        if len(prefix) < MIN_NAME_PREFIX:
            raise _invalid("q", f"a name search needs at least {MIN_NAME_PREFIX} letters", "too_short")
        partition = keys.customer_name_entry("", prefix).gsi1
        assert partition is not None
        page = self._store.query(partition[0], prefix, index="gsi1", limit=limit)
        return [i for item in page.items if (i := _customer_id(item.target_pk))]

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
        ids = [i for key in lookups if key in found and (i := _customer_id(found[key].target_pk))]
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


def _json(value: Any) -> Any:
    """A field value as it appears in the customer's JSON (history shows values this way)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value
