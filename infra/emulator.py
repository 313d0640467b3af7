"""moto as a local AWS engine that keeps DynamoDB's per-request atomicity under concurrent clients, and
whose transactions cost what DynamoDB's do (proportional to their items, not to the table).

moto applies a TransactWriteItems by deep-copying the table for rollback, without a lock: two concurrent
requests crash it ("dictionary changed size during iteration"). Real DynamoDB applies each request
atomically, so this server lets one DynamoDB request at a time into moto. Clients still race (their
conditions and transactions conflict as in AWS); only moto's bookkeeping is serialised. Other services
(SQS long polls, S3) are not held back.

moto answers a Query by walking (and sorting) every item of the table, whatever the partition asked for:
each page of an index costs O(table). :func:`install_fast_queries` keeps, per table and per index, each
partition's items in key order (maintained on every write path moto has: PutItem, UpdateItem, DeleteItem,
BatchWriteItem, TransactWriteItems, PartiQL) and answers a Query from the partition it names, with moto's
own semantics (order, key conditions, Limit and LastEvaluatedKey, projection, filters). Anything it does not
model exactly (legacy KeyConditions, multi-attribute keys, odd key types, errors) is left to moto.
"""

from __future__ import annotations

import bisect
import copy
import functools
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex, SecondaryIndex, Table
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerialisedDynamoDb:
    """WSGI middleware: DynamoDB requests pass one at a time; everything else passes freely."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self._app(environ, start_response)
        with self._lock:
            # Consume the body inside the lock: moto does its work while the response is produced.
            return list(self._app(environ, start_response))


class AwsEmulator(ThreadedMotoServer):
    """ThreadedMotoServer on 127.0.0.1 with DynamoDB requests serialised and per-request logs quiet."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 4566) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        install_fast_transactions()
        install_fast_queries()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    def _server_entry(self) -> None:
        app = SerialisedDynamoDb(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """TransactWriteItems as DynamoDB does it: check every condition first, then write all or nothing.

    Replaces moto's version, which deep-copies each table once per transaction item for its rollback
    (O(items × table size): minutes per order once a table holds a few thousand items). Requests are
    serialised by :class:`SerialisedDynamoDb`, so nothing changes between the check and the writes; a write
    that still fails restores exactly the items already written.
    """
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    operations: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise MockValidationException("Unsupported transaction operation")
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        identity = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        operations.append((op_type, op, key))

    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for _, op, key in operations:
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            errors.append((None, None, None))
            continue
        old = (
            current.to_json()["Attributes"]
            if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
            else None
        )
        errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    written: list[tuple[str, dict[str, Any], Any]] = []
    try:
        for op_type, op, key in operations:
            if op_type == "ConditionCheck":
                continue
            table_name = op["TableName"]
            before = self.get_item(table_name, key)
            written.append((table_name, key, copy.deepcopy(before) if before else None))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name, key, expression_attribute_names=names, expression_attribute_values=values
                )
            else:
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table_name, key, before in reversed(written):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])
        raise


def install_fast_transactions() -> None:
    """Use :func:`_transact_write_items` in moto's DynamoDB backend (idempotent)."""
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


# ---- fast queries ----------------------------------------------------------------------------------------

_KEY_TYPES = frozenset({"S", "N"})  # sort-key types whose order we model (moto's: cast values compared)
_QUERY_OPS = frozenset({"=", "<", "<=", ">", ">=", "BETWEEN", "BEGINS_WITH"})
_MAX_ITEM_BYTES = 400 * 1024  # moto refuses bigger items, so one never fills a page on its own
_lock = threading.RLock()
_state = {"enabled": True, "answered": 0, "deferred": 0}  # deferred: left to moto
_indexes: weakref.WeakKeyDictionary[Table, dict[str | None, _SortedIndex]] = weakref.WeakKeyDictionary()
PrimaryKey = tuple[DynamoType, DynamoType | None]
Entry = tuple[DynamoType, tuple[Any, ...]]


class _Partition:
    """One partition's items in ascending key order, with their sort keys alongside for bisecting."""

    __slots__ = ("items", "keys", "sizes")

    def __init__(self) -> None:
        self.keys: list[tuple[Any, ...]] = []
        self.items: list[Item] = []
        self.sizes: list[int] = []  # Item.size(), which moto recomputes for every item a query walks


class _SortedIndex:
    """The base table (``name`` None) or one secondary index with one HASH and one RANGE attribute, as
    partitions in the order moto sorts a query's results: by the index's sort key, then the table's hash
    and range keys (unique, so there are no ties)."""

    def __init__(self, name: str | None, hash_attr: str, sort_attrs: tuple[str, ...], signature: Any) -> None:
        self.name = name
        self.hash_attr = hash_attr
        self.sort_attrs = sort_attrs
        self.signature = signature
        self.types: list[str | None] = [None] * len(sort_attrs)
        self.partitions: dict[DynamoType, _Partition] = {}
        self.entries: dict[PrimaryKey, Entry] = {}
        self.poisoned = False  # something we do not model (a key of another type): moto answers

    def entry(self, item: Item) -> Entry | None:
        """Where ``item`` sits in this index; None if it is not in it."""
        attrs = item.attrs
        hash_value = attrs.get(self.hash_attr)
        if hash_value is None:
            return None
        if hash_value.type not in ("S", "N", "B"):
            self.poisoned = True
            return None
        key = []
        for position, attr in enumerate(self.sort_attrs):
            value = attrs.get(attr)
            if value is None:
                return None  # a sparse index: items without its sort key are not in it
            seen = self.types[position]
            if value.type not in _KEY_TYPES or (seen is not None and seen != value.type):
                self.poisoned = True
                return None
            self.types[position] = value.type
            key.append(value.cast_value)
        return hash_value, tuple(key)

    def add(self, primary: PrimaryKey, item: Item, size: int) -> None:
        """Index ``item`` (stored at ``primary``, ``size`` bytes)."""
        entry = self.entry(item)
        if entry is None:
            return
        partition = self.partitions.get(entry[0])
        if partition is None:
            partition = self.partitions[entry[0]] = _Partition()
        position = bisect.bisect_left(partition.keys, entry[1])
        partition.keys.insert(position, entry[1])
        partition.items.insert(position, item)
        partition.sizes.insert(position, size)
        self.entries[primary] = entry

    def remove(self, primary: PrimaryKey) -> None:
        """Forget the item stored at ``primary`` (if indexed)."""
        entry = self.entries.pop(primary, None)
        if entry is None:
            return
        partition = self.partitions.get(entry[0])
        position = bisect.bisect_left(partition.keys, entry[1]) if partition else 0
        if partition is None or position >= len(partition.keys) or partition.keys[position] != entry[1]:
            self.poisoned = True
            return
        del partition.keys[position]
        del partition.items[position]
        del partition.sizes[position]
        if not partition.keys:
            del self.partitions[entry[0]]


def _primary(table: Table, item: Item) -> PrimaryKey:
    return item.hash_key, item.range_key if table.range_key_attr else None


def _stored(table: Table, primary: PrimaryKey) -> Item | None:
    """The item stored at ``primary`` now (without touching moto's defaultdict)."""
    found: Any = table.items.get(primary[0])
    if table.range_key_attr is None:
        return found if isinstance(found, Item) else None
    if not isinstance(found, dict):
        return None
    item = found.get(primary[1])
    return item if isinstance(item, Item) else None


def _every_item(table: Table) -> Iterator[Item]:
    for stored in list(table.items.values()):
        if table.range_key_attr is None:
            if isinstance(stored, Item):
                yield stored
        else:
            yield from (item for item in list(stored.values()) if isinstance(item, Item))


def _shape(table: Table, index_name: str | None) -> tuple[str, tuple[str, ...], Any] | None:
    """(hash attribute, sort attributes, signature) of what we can index; None for what moto must do."""
    table_keys = (table.range_key_attr,) if table.range_key_attr else ()
    if index_name is None:
        return table.hash_key_attr, table_keys, ("table", table.hash_key_attr, table.range_key_attr)
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None:
        return None
    hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    ranges = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) != 1 or len(index.schema) != 2:
        return None
    sort_attrs = (ranges[0], table.hash_key_attr, *table_keys)
    return hashes[0], sort_attrs, (index_name, hashes[0], ranges[0], table.hash_key_attr, *table_keys)


def _sorted_index(table: Table, index_name: str | None) -> _SortedIndex | None:
    """The table's sorted view of ``index_name`` (built on first use, then kept up to date by the write
    hooks); None if moto must answer."""
    shape = _shape(table, index_name)
    if shape is None:
        return None
    built = _indexes.setdefault(table, {})
    index = built.get(index_name)
    if index is None or index.signature != shape[2]:
        index = _SortedIndex(index_name, shape[0], shape[1], shape[2])
        rows: dict[DynamoType, list[tuple[tuple[Any, ...], Item]]] = {}
        for item in _every_item(table):
            entry = index.entry(item)
            if entry is not None:
                rows.setdefault(entry[0], []).append((entry[1], item))
                index.entries[_primary(table, item)] = entry
        for hash_value, found in rows.items():
            found.sort(key=lambda row: row[0])
            partition = index.partitions[hash_value] = _Partition()
            partition.keys = [key for key, _ in found]
            partition.items = [item for _, item in found]
            partition.sizes = [item.size() for item in partition.items]
        built[index_name] = index
    return None if index.poisoned else index


def _reindex(table: Table, primary: PrimaryKey) -> None:
    """After a write at ``primary``: move that item in every index built for the table."""
    built = _indexes.get(table)
    if not built:
        return
    item = _stored(table, primary)
    size = item.size() if item is not None else 0
    for index in built.values():
        if index.poisoned:
            continue
        try:
            index.remove(primary)
            if item is not None:
                index.add(primary, item, size)
        except Exception:  # never fail a write over the index: moto answers instead
            index.poisoned = True


def _primary_from(table: Table, attrs: dict[str, Any]) -> PrimaryKey | None:
    try:
        hash_value = DynamoType(attrs[table.hash_key_attr])
        range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    except Exception:  # a request moto rejects: nothing was written
        return None
    return hash_value, range_value


def _ordered_bounds(keys: list[tuple[Any, ...]], comparison: str, values: list[Any]) -> tuple[int, int]:
    """[lo, hi) of the keys whose first part satisfies the key condition (the matches are contiguous)."""

    def first(key: tuple[Any, ...]) -> Any:
        return key[0]

    size = len(keys)
    if comparison == "=":
        return bisect.bisect_left(keys, values[0], key=first), bisect.bisect_right(keys, values[0], key=first)
    if comparison == "<":
        return 0, bisect.bisect_left(keys, values[0], key=first)
    if comparison == "<=":
        return 0, bisect.bisect_right(keys, values[0], key=first)
    if comparison == ">":
        return bisect.bisect_right(keys, values[0], key=first), size
    if comparison == ">=":
        return bisect.bisect_left(keys, values[0], key=first), size
    if comparison == "BETWEEN":
        low = bisect.bisect_left(keys, values[0], key=first)
        return low, max(low, bisect.bisect_right(keys, values[1], key=first))
    prefix = values[0]  # BEGINS_WITH: from the prefix on, the matches come first
    low = bisect.bisect_left(keys, prefix, key=first)
    return low, bisect.bisect_left(keys, True, lo=low, key=lambda key: not key[0].startswith(prefix))


def _typed(value: Any, expected: str | None) -> Any:
    """The cast value of a key value given as ``{"S": ...}`` (or a DynamoType), if its type is the one the
    index holds; raises LookupError otherwise."""
    typed = DynamoType(value) if not isinstance(value, DynamoType) else value
    if typed.type not in _KEY_TYPES or (expected is not None and typed.type != expected):
        raise LookupError(typed.type)
    return typed.cast_value


def _fast_query(
    table: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None,
    consistent_read: bool,
    filter_expression: Any,
    hash_key_conditions: list[tuple[str, DynamoType]] | None,
    range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None,
) -> tuple[list[Item], int, dict[str, Any] | None] | None:
    """Table.query from the sorted partition, or None where moto must answer (and raise its errors)."""
    hash_conditions = hash_key_conditions or []
    range_conditions = range_key_conditions or []
    if index_name is None:
        if hash_key is None or (range_comparison and table.range_key_attr is None):
            return None
        hash_value = hash_key
        range_attr = table.range_key_attr
    else:
        secondary: SecondaryIndex | None = {i.name: i for i in table.all_indexes()}.get(index_name)
        if secondary is None or (consistent_read and isinstance(secondary, GlobalSecondaryIndex)):
            return None
        shape = _shape(table, index_name)
        if shape is None or len(hash_conditions) != 1 or hash_conditions[0][0] != shape[0]:
            return None
        hash_value = hash_conditions[0][1]
        range_attr = shape[1][0]
    if len(range_conditions) > 1 or (range_conditions and range_conditions[0][0] != range_attr):
        return None
    if range_comparison is not None:
        if range_comparison not in _QUERY_OPS or range_attr is None:
            return None
        if range_conditions and range_conditions[0][1] != range_comparison:
            return None
        if len(range_objs) != (2 if range_comparison == "BETWEEN" else 1):
            return None
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        return None
    index = _sorted_index(table, index_name)
    if index is None:
        return None
    try:
        values = [_typed(value, index.types[0]) for value in range_objs]
        if range_comparison == "BEGINS_WITH" and not isinstance(values[0], str):
            return None
        start_key = None
        if exclusive_start_key is not None:
            if not isinstance(exclusive_start_key, dict):
                return None
            if DynamoType(exclusive_start_key[index.hash_attr]) != hash_value:
                return None
            start_key = tuple(
                _typed(exclusive_start_key[attr], index.types[position])
                for position, attr in enumerate(index.sort_attrs)
            )
            if index_name is not None and table.hash_key_attr not in exclusive_start_key:
                return None
    except (LookupError, TypeError, AttributeError, IndexError, ValueError):
        return None

    partition = index.partitions.get(hash_value)
    keys: list[tuple[Any, ...]] = partition.keys if partition else []
    items: list[Item] = partition.items if partition else []
    sizes: list[int] = partition.sizes if partition else []
    count = len(keys)
    low, high = (0, count) if range_comparison is None else _ordered_bounds(keys, range_comparison, values)
    # Positions in the order moto walks the partition (descending when ScanIndexForward is false).
    if scan_index_forward is False:
        window = (count - high, count - low)
        start = count - bisect.bisect_left(keys, start_key) if start_key is not None else 0

        def at(position: int) -> int:
            return count - 1 - position
    else:
        window = (low, high)
        start = bisect.bisect_right(keys, start_key) if start_key is not None else 0

        def at(position: int) -> int:
            return position

    results: list[Item] = []
    result_size = 0
    last_evaluated_key = None
    for position in range(max(start, window[0]), window[1]):
        item, item_size = items[at(position)], sizes[at(position)]
        if (limit is not None and len(results) == limit) or result_size + item_size > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            break
        results.append(item)
        result_size += item_size
    else:
        # moto walks on over the partition's items that miss the key condition, and stops with a
        # LastEvaluatedKey at the first one that would not fit.
        rest = range(max(start, window[1]), count)
        if results and rest:
            full = limit is not None and len(results) == limit
            if full or (
                result_size + _MAX_ITEM_BYTES > RESULT_SIZE_LIMIT
                and any(result_size + sizes[at(position)] > RESULT_SIZE_LIMIT for position in rest)
            ):
                last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
    for item in results:  # a write that bypassed the hooks: rebuild, and let moto answer this once
        if _stored(table, _primary(table, item)) is not item or index.entry(item) != index.entries.get(
            _primary(table, item)
        ):
            _indexes.get(table, {}).pop(index_name, None)
            return None

    scanned_count = len(results)
    if index_name:
        projection = table.get_index(index_name)
        results = [_projected(projection, result) for result in results]
    else:
        results = copy.deepcopy(results)
    if filter_expression is not None:
        results = [result for result in results if filter_expression.expr(result)]
    if projection_expressions:
        results = [result.project(projection_expressions) for result in results]
    return results, scanned_count, last_evaluated_key


def _projected(index: SecondaryIndex, item: Item) -> Item:
    """``index.project(copy.deepcopy(item))``, as moto does it, without the JSON round trip for what it
    cannot change: an index that projects only string attributes named at the top level."""
    projection = index.projection or {}
    kind = projection.get("ProjectionType")
    if kind in ("KEYS_ONLY", "INCLUDE"):
        names = [*index.table_key_attrs, *(key["AttributeName"] for key in index.schema)]
        if kind == "INCLUDE":
            names += projection.get("NonKeyAttributes", [])
        attrs: dict[str, Any] = {}
        for name in names:
            value = item.attrs.get(name)
            if value is None:
                continue
            if value.type != "S" or not isinstance(value.value, str):
                break  # numbers, binaries, documents: moto's round trip may change how they are written
            attrs[name] = DynamoType({"S": value.value})
        else:
            projected = Item(item.hash_key, item.range_key, {})
            dict.update(projected.attrs, attrs)  # smaller than the item: no need to check its size again
            return projected
    return index.project(copy.deepcopy(item))


def fast_query_counts() -> tuple[int, int]:
    """(queries answered from the sorted partitions, queries left to moto) since the process started."""
    return _state["answered"], _state["deferred"]


@contextmanager
def moto_queries() -> Iterator[None]:
    """Let moto itself answer every Query while the context is active (the indexes are still kept up to
    date); for comparing the two."""
    with _lock:
        saved = _state["enabled"]
        _state["enabled"] = False
    try:
        yield
    finally:
        with _lock:
            _state["enabled"] = saved


def install_fast_queries() -> None:
    """Answer Query from the sorted partitions, and keep them up to date on every write (idempotent)."""
    with _lock:
        if getattr(Table.query, "_abo_fast", False):
            return
        original_query = Table.query
        original_put = Table.put_item
        original_delete = Table.delete_item
        original_update = DynamoDBBackend.update_item

        @functools.wraps(original_query)
        def query(
            self: Table,
            hash_key: DynamoType | None,
            range_comparison: str | None,
            range_objs: list[DynamoType],
            limit: int,
            exclusive_start_key: dict[str, Any],
            scan_index_forward: bool,
            projection_expressions: list[list[str]] | None,
            index_name: str | None = None,
            consistent_read: bool = False,
            filter_expression: Any = None,
            hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
            range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
            **filter_kwargs: Any,
        ) -> tuple[list[Item], int, dict[str, Any] | None]:
            if _state["enabled"] and not filter_kwargs:
                with _lock:
                    answer = _fast_query(
                        self,
                        hash_key,
                        range_comparison,
                        range_objs,
                        limit,
                        exclusive_start_key,
                        scan_index_forward,
                        projection_expressions,
                        index_name,
                        consistent_read,
                        filter_expression,
                        hash_key_conditions,
                        range_key_conditions,
                    )
                    _state["answered" if answer is not None else "deferred"] += 1
                if answer is not None:
                    return answer
            return original_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )

        @functools.wraps(original_put)
        def put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
            with _lock:
                try:
                    return original_put(self, item_attrs, *args, **kwargs)
                finally:
                    primary = _primary_from(self, item_attrs)
                    if primary is not None:
                        _reindex(self, primary)

        @functools.wraps(original_delete)
        def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
            with _lock:
                try:
                    return original_delete(self, hash_key, range_key)
                finally:
                    _reindex(self, (hash_key, range_key if self.range_key_attr else None))

        @functools.wraps(original_update)
        def update_item(
            self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Item:
            with _lock:
                try:
                    return original_update(self, table_name, key, *args, **kwargs)
                finally:
                    try:
                        table: Table | None = self.get_table(table_name)  # by name or ARN
                    except Exception:  # no such table: nothing was written
                        table = None
                    primary = _primary_from(table, key) if table is not None else None
                    if table is not None and primary is not None:
                        _reindex(table, primary)

        query._abo_fast = True  # type: ignore[attr-defined]
        Table.query = query  # type: ignore[method-assign]
        Table.put_item = put_item  # type: ignore[method-assign]
        Table.delete_item = delete_item  # type: ignore[method-assign]
        DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
