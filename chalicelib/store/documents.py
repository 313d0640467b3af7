"""Typed documents in the main table.

An item is its keys, the index keys it appears under, an optional ``status`` for conditions, a version
for optimistic locking, and ``doc``: the pydantic document serialised as JSON. Lookup items (``pk`` =
what is looked up, e.g. ``EMAIL#kari@example.no``) point at a document's keys and make values unique.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.errors import ValidationFailedError
from chalicelib.events import Event
from chalicelib.store.base import MainItem
from chalicelib.store.events import event_item
from chalicelib.store.transaction import Transaction, WriteConflictError, forget_connections

# WriteConflictError and forget_connections live in store.transaction; callers import them from here too.
__all__ = [
    "MAX_PAGE",
    "DocumentItem",
    "DocumentStore",
    "Gsi1",
    "Gsi2",
    "Gsi3",
    "Keys",
    "Page",
    "WriteConflictError",
    "decode_cursor",
    "document_item",
    "encode_cursor",
    "forget_connections",
    "lookup_item",
]

DocT = TypeVar("DocT", bound=BaseModel)
T = TypeVar("T")
MAX_PAGE = 100


class Gsi1(GlobalSecondaryIndex["DocumentItem"]):  # type: ignore[no-untyped-call]
    """Lists and relations: a customer's subscriptions and invoices, catalog lists, lookups by number."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["DocumentItem"]):  # type: ignore[no-untyped-call]
    """Work queues by date and shard (renewals, dunning): keys only, the worker reads the item."""

    class Meta:
        index_name = "gsi2"
        projection = KeysOnlyProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex["DocumentItem"]):  # type: ignore[no-untyped-call]
    """The due index: one partition per run (``DUE#invoice``, ``DUE#dunning``), sorted by the day work falls
    due, so a run's planner finds everything due up to its business date (missed days too) in one query."""

    class Meta:
        index_name = "gsi3"
        projection = KeysOnlyProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class DocumentItem(MainItem):
    """One stored document, or a lookup item pointing at one."""

    kind = UnicodeAttribute()
    doc = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    version = NumberAttribute(default=1)
    target_pk = UnicodeAttribute(null=True)
    target_sk = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    gsi2 = Gsi2()
    gsi3 = Gsi3()

    def document(self, model: type[DocT]) -> DocT:
        """The stored document as ``model``."""
        if self.doc is None:
            raise ValueError(f"{self.pk}/{self.sk} holds no document")
        return model.model_validate_json(self.doc)


@dataclass(frozen=True)
class Keys:
    """Where a document lives and which index entries it has."""

    pk: str
    sk: str
    gsi1: tuple[str, str] | None = None
    gsi2: tuple[str, str] | None = None
    gsi3: tuple[str, str] | None = None


def document_item(
    kind: str, keys: Keys, doc: BaseModel, status: str | None = None, version: int = 1
) -> DocumentItem:
    """Build the item that stores ``doc`` under ``keys``."""
    item = DocumentItem(
        keys.pk,
        keys.sk,
        kind=kind,
        doc=doc.model_dump_json(),
        status=status,
        version=version,
    )
    if keys.gsi1:
        item.gsi1pk, item.gsi1sk = keys.gsi1
    if keys.gsi2:
        item.gsi2pk, item.gsi2sk = keys.gsi2
    if keys.gsi3:
        item.gsi3pk, item.gsi3sk = keys.gsi3
    return item


def lookup_item(pk: str, target: Keys, kind: str = "lookup", sk: str = "LOOKUP") -> DocumentItem:
    """A lookup entry: ``pk`` is the looked-up value, the target is the document's keys."""
    return DocumentItem(pk, sk, kind=kind, target_pk=target.pk, target_sk=target.sk)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and the opaque cursor of the next."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """An opaque cursor from DynamoDB's LastEvaluatedKey."""
    if not last_key:
        return None
    flat = {name: value["S"] for name, value in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(flat, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, index_keys: Sequence[str]) -> dict[str, Any] | None:
    """DynamoDB's ExclusiveStartKey from a cursor; a tampered cursor is a 422."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        flat = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(flat, dict) or set(flat) != {"pk", "sk", *index_keys}:
            raise ValueError("unexpected keys")
        return {name: {"S": str(value)} for name, value in flat.items()}
    except ValueError as error:
        from chalicelib.errors import FieldError

        raise ValidationFailedError(
            "the cursor is not one this API gave out",
            [FieldError("cursor", "invalid cursor", "invalid", "query")],
        ) from error


class DocumentStore:
    """Reads and writes documents; every write that must not clash is conditional or transactional."""

    def get(self, pk: str, sk: str) -> DocumentItem | None:
        """The item at ``pk``/``sk``, read consistently."""
        try:
            return DocumentItem.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            return None

    def get_document(self, pk: str, sk: str, model: type[DocT]) -> DocT | None:
        """The document at ``pk``/``sk`` as ``model``."""
        item = self.get(pk, sk)
        return None if item is None or item.doc is None else item.document(model)

    def batch_get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], DocumentItem]:
        """Several items in one round trip per hundred keys."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        return {(item.pk, item.sk): item for item in DocumentItem.batch_get(wanted, consistent_read=True)}

    def follow(self, lookup_pk: str, model: type[DocT], sk: str = "LOOKUP") -> DocT | None:
        """The document a lookup entry points at."""
        lookup = self.get(lookup_pk, sk)
        if lookup is None or lookup.target_pk is None or lookup.target_sk is None:
            return None
        return self.get_document(lookup.target_pk, lookup.target_sk, model)

    def put_new(self, item: DocumentItem) -> None:
        """Create ``item``; 409 if something already lives at its keys."""
        self.write([item], [])

    def page(
        self, gsi1pk: str, model: type[DocT], limit: int, cursor: str | None, prefix: str | None = None
    ) -> Page[DocT]:
        """A page of documents under one gsi1 partition, oldest first."""
        start = decode_cursor(cursor, ("gsi1pk", "gsi1sk"))
        condition = DocumentItem.gsi1sk.startswith(prefix) if prefix else None
        results = DocumentItem.gsi1.query(
            gsi1pk,
            range_key_condition=condition,
            limit=min(limit, MAX_PAGE),
            last_evaluated_key=start,
        )
        items = [item.document(model) for item in results if item.doc is not None]
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def query(
        self,
        pk: str,
        sk_prefix: str | None = None,
        *,
        index: str | None = None,
        limit: int = MAX_PAGE,
        cursor: str | None = None,
    ) -> Page[DocumentItem]:
        """A page of the raw items of one partition of the table (read consistently) or of ``index``
        (``gsi1``, ``gsi2``: eventually consistent; gsi2 items carry their keys only), in key order."""
        if index is None:
            start = decode_cursor(cursor, ())
            condition = DocumentItem.sk.startswith(sk_prefix) if sk_prefix else None
            results = DocumentItem.query(
                pk,
                range_key_condition=condition,
                limit=min(limit, MAX_PAGE),
                last_evaluated_key=start,
                consistent_read=True,
            )
        elif index in ("gsi1", "gsi2"):
            gsi = DocumentItem.gsi1 if index == "gsi1" else DocumentItem.gsi2
            start = decode_cursor(cursor, (f"{index}pk", f"{index}sk"))
            sort_key = DocumentItem.gsi1sk if index == "gsi1" else DocumentItem.gsi2sk
            condition = sort_key.startswith(sk_prefix) if sk_prefix else None
            results = gsi.query(
                pk, range_key_condition=condition, limit=min(limit, MAX_PAGE), last_evaluated_key=start
            )
        else:
            raise ValueError(f"no index {index!r}")
        items = list(results)
        return Page(items=items, next_cursor=encode_cursor(results.last_evaluated_key))

    def query_partition(
        self, pk: str, sk_prefix: str, model: type[DocT], limit: int, cursor: str | None
    ) -> Page[DocT]:
        """A page of the documents of one table partition whose sort key begins with ``sk_prefix``."""
        page = self.query(pk, sk_prefix, limit=limit, cursor=cursor)
        return Page([item.document(model) for item in page.items if item.doc is not None], page.next_cursor)

    def write(
        self,
        creates: Sequence[DocumentItem],
        replaces: Sequence[tuple[DocumentItem, int]],
        conditions: Sequence[tuple[DocumentItem, Any]] = (),
        updates: Sequence[tuple[Any, list[Any], Any]] = (),
        deletes: Sequence[DocumentItem] = (),
        *,
        events: Sequence[Event] = (),
        token: str | None = None,
    ) -> None:
        """One transaction: create new items, replace items at an expected version, check conditions,
        apply updates, delete items, and record the change's ``events``; all or nothing, committed by
        :class:`Transaction` (its ClientRequestToken, ``token`` or one derived from the writes, and its
        retry policy). A failed condition is a :class:`WriteConflictError` naming positions in this
        argument order (the events come after the deletes)."""
        transaction = Transaction(token)
        for item in creates:
            transaction.create(item)
        for item, expected_version in replaces:
            transaction.replace(item, expected_version)
        for item, condition in conditions:
            transaction.condition_check(item, condition)
        for item, actions, condition in updates:
            transaction.update(item, actions, condition)
        for item in deletes:
            transaction.delete(item)
        for event in events:
            transaction.create(event_item(event))
        transaction.commit()
