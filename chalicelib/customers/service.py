"""Customers: reading, changing (with history and moved lookups), the lookups a customer is found by, and
search (Brukersøk, :mod:`chalicelib.customers.search`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LANGUAGES
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
from chalicelib.customers.search import CustomerSearch, customer_id_of, normalise_name
from chalicelib.errors import ConflictError, FieldError, NotFoundError, ValidationFailedError
from chalicelib.events import Event, EventType, new_event
from chalicelib.ids import new_id
from chalicelib.store import keys
from chalicelib.store.documents import (
    MAX_PAGE,
    DocumentItem,
    DocumentStore,
    Keys,
    Page,
    WriteConflictError,
    document_item,
    lookup_item,
)
from chalicelib.subscriptions.models import Subscription
from chalicelib.values import Address

_SPACES = re.compile(r"\s+")
_PATCHABLE = ("name", "email", "phone", "address", "language", "org_number", "email_opt_out", "sms_opt_out")
_NULLABLE = frozenset({"phone", "address"})


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
        change_id = new_id("chg")
        creates = [move.create for move in moves if move.create is not None]
        creates.append(
            document_item("customer_change", keys.customer_change(customer_id, now, change_id), change)
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
                events=customer_updated_events(
                    customer_id, change_id, sorted(changed), self._sellers(customer_id), now
                ),
            )
        except WriteConflictError:
            raise self._explain_conflict(customer_id, moves) from None
        return updated

    def _sellers(self, customer_id: str) -> list[str]:
        """The legal entities the customer is a customer of: those of its subscriptions (an order creates
        the customer with its first subscription)."""
        entities: set[str] = set()
        cursor: str | None = None
        while True:
            page = self._store.page(keys.customer(customer_id).pk, Subscription, MAX_PAGE, cursor, "SUB#")
            entities.update(subscription.legal_entity_id for subscription in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return sorted(entities)

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
            and customer_id_of(held.target_pk) != customer_id
        ]
        if taken:
            names = " and ".join(
                "e-mail address" if e.field == "email" else "organisation number" for e in taken
            )
            return ConflictError(f"that {names} belongs to another customer; nothing was changed", taken)
        return ConflictError("the customer was changed at the same time; read it again and retry")

    # ---- search --------------------------------------------------------------------------------------

    def search(self, text: str, limit: int) -> list[Customer]:
        """Customers matching ``text`` (see :mod:`chalicelib.customers.search`), at most ``limit``."""
        return CustomerSearch(self._store).search(text, limit)


def customer_updated_events(
    customer_id: str, change_id: str, fields: list[str], legal_entity_ids: Iterable[str], now: datetime
) -> list[Event]:
    """``customer.updated`` naming the changed ``fields``, once for each seller the customer buys from
    (an event belongs to one legal entity, and each seller hears of its own customers only). Subject:
    ``<customer id>:<change id>:<legal entity id>`` (the change id is its history entry's)."""
    return [
        new_event(
            EventType.CUSTOMER_UPDATED,
            entity,
            now,
            {"customer_id": customer_id, "fields": fields},
        )
        for entity in legal_entity_ids
    ]


def _json(value: Any) -> Any:
    """A field value as it appears in the customer's JSON (history shows values this way)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value
