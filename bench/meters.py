"""Meters for the cost benchmark: DynamoDB request units per call (botocore hooks, as
:mod:`infra.awscalls` counts calls), and Lambda invocations with their duration (the in-process runner's
``invoke_handler``, through which every scheduled, queued and stream invocation passes).

Request units are worked out from each call's parameters and answer with DynamoDB's rules: 1 KB a write
unit, 4 KB a read unit, half for an eventually consistent read, double inside a transaction. An update's or
delete's size is not in the call; it is priced by its key and new values (at least one unit), which
undercounts an update of an item over 1 KB.
"""

from __future__ import annotations

import functools
import gc
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.client
import botocore.session
import yaml

from bench.prices import read_units, write_units

_HANDLER_ID = "abo-bench-units"
_lock = threading.Lock()
_installed = False
_meters: tuple[UnitMeter, ...] = ()


def attribute_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's wire format (``{"S": ...}``, ``{"M": {...}}`` ...)."""
    [(kind, data)] = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return len(str(data).lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in data)
    if kind == "L":
        return 3 + sum(1 + attribute_size(member) for member in data)
    if kind == "M":
        return 3 + item_size(data)
    return 0


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of an item as DynamoDB sizes it: names plus values."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


def _consistent(params: Mapping[str, Any]) -> bool:
    return bool(params.get("ConsistentRead", False))


def _written(change: Mapping[str, Any]) -> int:
    """An item's size, or for an update or delete what the call shows of it (its key and new values)."""
    if "Item" in change:
        return item_size(change["Item"])
    return item_size(change.get("Key")) + item_size(change.get("ExpressionAttributeValues"))


def request_units(
    operation: str, params: Mapping[str, Any], parsed: Mapping[str, Any]
) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB call."""
    if operation == "GetItem":
        return read_units(item_size(parsed.get("Item")), consistent=_consistent(params)), 0.0
    if operation in ("Query", "Scan"):
        size = sum(item_size(item) for item in parsed.get("Items", []))
        return read_units(size, consistent=_consistent(params)), 0.0
    if operation == "BatchGetItem":
        reads = 0.0
        for table, found in parsed.get("Responses", {}).items():
            consistent = _consistent(params.get("RequestItems", {}).get(table, {}))
            reads += sum(read_units(item_size(item), consistent=consistent) for item in found)
        return reads, 0.0
    if operation == "TransactGetItems":
        found = [answer.get("Item") for answer in parsed.get("Responses", [])]
        return sum(read_units(item_size(item), consistent=True, transactional=True) for item in found), 0.0
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 0.0, write_units(_written(params))
    if operation == "BatchWriteItem":
        changes = [
            request.get("PutRequest") or request.get("DeleteRequest") or {}
            for requests in params.get("RequestItems", {}).values()
            for request in requests
        ]
        return 0.0, sum(write_units(_written(change)) for change in changes)
    if operation == "TransactWriteItems":
        writes = 0.0
        for entry in params.get("TransactItems", []):
            [change] = entry.values()
            writes += write_units(_written(change), transactional=True)
        return 0.0, writes
    return 0.0, 0.0


@dataclass
class UnitMeter:
    """DynamoDB read and write request units of the calls made while its context is active."""

    read: float = 0.0
    write: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, units: tuple[float, float]) -> None:
        """Add one call's units."""
        with self._lock:
            self.read += units[0]
            self.write += units[1]


def _keep_params(params: Any, context: dict[str, Any], **_: Any) -> None:
    if _meters:
        context[_HANDLER_ID] = params


def _after_call(parsed: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
    meters = _meters
    if not meters or not isinstance(parsed, dict):
        return
    units = request_units(model.name, context.get(_HANDLER_ID) or {}, parsed)
    for meter in meters:
        meter.add(units)


def _attach(client: Any) -> Any:
    events = client.meta.events
    events.register("before-parameter-build.dynamodb", _keep_params, unique_id=f"{_HANDLER_ID}-params")
    events.register("after-call.dynamodb", _after_call, unique_id=f"{_HANDLER_ID}-after")
    return client


def _install() -> None:
    global _installed  # noqa: PLW0603 - one process-wide hook, as infra.awscalls
    with _lock:
        if _installed:
            return
        original = botocore.session.Session.create_client

        @functools.wraps(original)
        def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            return _attach(original(self, *args, **kwargs))

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        for client in [obj for obj in gc.get_objects() if isinstance(obj, botocore.client.BaseClient)]:
            _attach(client)
        _installed = True


@contextmanager
def meter_request_units() -> Iterator[UnitMeter]:
    """Meter the DynamoDB request units of every client's calls while the context is active."""
    global _meters  # noqa: PLW0603
    _install()
    meter = UnitMeter()
    with _lock:
        _meters = (*_meters, meter)
    try:
        yield meter
    finally:
        with _lock:
            _meters = tuple(active for active in _meters if active is not meter)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (``!Ref``, ``!Sub`` ...) read as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def memory_by_function(template: Path) -> dict[str, int]:
    """Each function's MemorySize in MB (its own, else the template's Globals)."""
    document = yaml.load(template.read_text(), Loader=_CfnLoader)
    default = int(document.get("Globals", {}).get("Function", {}).get("MemorySize", 128))
    return {
        name: int((resource.get("Properties") or {}).get("MemorySize", default))
        for name, resource in document.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


@dataclass
class LambdaMeter:
    """Invocations per function and their own seconds (an invocation made inside another is not part of
    the outer one's duration)."""

    invocations: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def gb_seconds(self, memory_mb: Mapping[str, int]) -> float:
        """GB-seconds at each function's memory (128 MB for one the template does not list)."""
        return sum(seconds * memory_mb.get(name, 128) / 1024 for name, seconds in self.seconds.items())

    @property
    def total(self) -> int:
        """Invocations of every function."""
        return sum(self.invocations.values())


@contextmanager
def meter_invocations() -> Iterator[LambdaMeter]:
    """Count and time every handler the in-process runner invokes while the context is active."""
    from chalicelib.jobs import invocation

    meter = LambdaMeter()
    original: Callable[[str, dict[str, Any], str], Any] = invocation.invoke_handler
    inner_seconds: list[float] = [0.0]  # time spent in invocations nested in the current one

    def invoke(handler_path: str, event: dict[str, Any], function_name: str) -> Any:
        outer_inner, inner_seconds[0] = inner_seconds[0], 0.0
        started = time.perf_counter()
        try:
            return original(handler_path, event, function_name)
        finally:
            elapsed = time.perf_counter() - started
            own = elapsed - inner_seconds[0]
            meter.invocations[function_name] = meter.invocations.get(function_name, 0) + 1
            meter.seconds[function_name] = meter.seconds.get(function_name, 0.0) + own
            inner_seconds[0] = outer_inner + elapsed

    # Every in-process event source (schedules, queues, the events stream) calls handlers through it.
    invocation.invoke_handler = invoke
    try:
        yield meter
    finally:
        invocation.invoke_handler = original  # type: ignore[assignment]
