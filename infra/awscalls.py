"""Counting AWS API calls, and failing the n-th one, through botocore's event hooks.

:func:`install` hooks every botocore client of the process once: clients made from then on (a patch of
``botocore.session.Session.create_client`` registers our handlers on each new client's ``meta.events``)
and clients already alive (found once by a scan of the heap). The contexts only switch counting and
failure on and off, so clients that PynamoDB or :class:`~chalicelib.container.Services` cached before a
context started are seen too. A call is counted once, before it is sent (retries are not extra calls).

Used by ``make bench`` (requests per operation) and by crash-injection tests::

    n = 1
    while True:
        with fail_at_call(n) as fault, contextlib.suppress(InjectedCrash):
            run_job()
        run_job()  # the rerun must reach the state of one complete run
        if not fault.fired:
            break  # run_job makes fewer than n calls: every step has been crashed at
        n += 1
"""

from __future__ import annotations

import functools
import gc
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import botocore.client
import botocore.session

_lock = threading.Lock()
_installed = False
_original_create_client: Callable[..., Any] | None = None
# Replaced as a whole under _lock, read without it: a handler always sees a consistent tuple.
_counters: tuple[AwsCallCounter, ...] = ()
_faults: tuple[FaultInjector, ...] = ()
_HANDLER_ID = "abo-awscalls"


class InjectedCrash(BaseException):
    """The default injected failure. Not an ``Exception``, so that ``except Exception`` in the platform
    (batch processors, the queue drainer, Chalice's error handling) cannot absorb it: the process
    "dies" at that call, as a Lambda killed mid-run would."""


@dataclass(frozen=True)
class AwsCall:
    """One API call: ``service`` as botocore names it (``dynamodb``, ``s3``, ``sqs``) and the operation."""

    service: str
    operation: str
    thread: str

    @property
    def name(self) -> str:
        """``service.Operation``."""
        return f"{self.service}.{self.operation}"


@dataclass
class AwsCallCounter:
    """The calls made while its :func:`count_aws_requests` context is active, by any thread."""

    calls: list[AwsCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, call: AwsCall) -> None:
        """Add one call."""
        with self._lock:
            self.calls.append(call)

    @property
    def total(self) -> int:
        """How many calls were made."""
        with self._lock:
            return len(self.calls)

    def count(self, service: str | None = None, operation: str | None = None) -> int:
        """How many calls matched ``service`` and ``operation`` (None matches any)."""
        with self._lock:
            return sum(1 for call in self.calls if _matches(call, service, operation))

    def by_operation(self) -> Counter[str]:
        """Calls per ``service.Operation``."""
        with self._lock:
            return Counter(call.name for call in self.calls)

    def reset(self) -> None:
        """Forget the calls counted so far."""
        with self._lock:
            self.calls.clear()


@dataclass
class FaultInjector:
    """Raises at the n-th matching call after its context started; only once."""

    n: int
    exception: BaseException | type[BaseException]
    service: str | None = None
    operation: str | None = None
    when: Literal["before", "after"] = "before"
    seen: int = 0
    failed_call: AwsCall | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def fired(self) -> bool:
        """Whether the n-th call came and was failed."""
        return self.failed_call is not None

    def _check(self, call: AwsCall, when: str) -> None:
        if when != self.when or not _matches(call, self.service, self.operation):
            return
        with self._lock:
            self.seen += 1
            if self.seen != self.n:
                return
            self.failed_call = call
        if isinstance(self.exception, BaseException):
            raise self.exception
        raise self.exception(f"injected failure at AWS call {self.n}: {call.name}")


def _matches(call: AwsCall, service: str | None, operation: str | None) -> bool:
    return (service is None or call.service == service) and (operation is None or call.operation == operation)


def _describe(model: Any) -> AwsCall:
    return AwsCall(model.service_model.service_name, model.name, threading.current_thread().name)


def _before_call(model: Any, **_: Any) -> None:
    counters, faults = _counters, _faults
    if not counters and not faults:
        return
    call = _describe(model)
    for counter in counters:
        counter.record(call)
    for fault in faults:
        fault._check(call, "before")
    # Returning None matters: a value from a before-call handler would replace the real response.


def _after_call(model: Any, **_: Any) -> None:
    faults = _faults
    if not faults:
        return
    call = _describe(model)
    for fault in faults:
        fault._check(call, "after")


def attach(client: Any) -> Any:
    """Hook one botocore (or boto3) client; attaching twice is harmless. Returns the client."""
    events = client.meta.events
    events.register("before-call", _before_call, unique_id=f"{_HANDLER_ID}-before")
    events.register("after-call", _after_call, unique_id=f"{_HANDLER_ID}-after")
    return client


def attach_existing() -> int:
    """Hook every client alive in the process now; returns how many were found."""
    clients = [obj for obj in gc.get_objects() if isinstance(obj, botocore.client.BaseClient)]
    for client in clients:
        attach(client)
    return len(clients)


def install() -> None:
    """Hook every client of the process, existing and future. Idempotent and thread-safe."""
    global _installed, _original_create_client  # noqa: PLW0603 - one process-wide hook
    with _lock:
        if _installed:
            return
        original = botocore.session.Session.create_client

        @functools.wraps(original)
        def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            return attach(original(self, *args, **kwargs))

        _original_create_client = original
        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        attach_existing()
        _installed = True


def is_installed() -> bool:
    """Whether :func:`install` has run."""
    return _installed


@contextmanager
def count_aws_requests() -> Iterator[AwsCallCounter]:
    """Count every AWS API call made by any client, in any thread, while the context is active."""
    global _counters  # noqa: PLW0603
    install()
    counter = AwsCallCounter()
    with _lock:
        _counters = (*_counters, counter)
    try:
        yield counter
    finally:
        with _lock:
            _counters = tuple(active for active in _counters if active is not counter)


@contextmanager
def fail_at_call(
    n: int,
    exception: BaseException | type[BaseException] = InjectedCrash,
    *,
    service: str | None = None,
    operation: str | None = None,
    when: Literal["before", "after"] = "before",
) -> Iterator[FaultInjector]:
    """Make the ``n``-th AWS call (1-based; counting only calls matching ``service``/``operation``)
    raise ``exception``. ``when="before"``: the request is never sent; ``"after"``: AWS has done the
    work but the caller never learns it (a crash between a write and its next step). The yielded
    injector's ``fired`` tells whether the run got that far."""
    global _faults  # noqa: PLW0603
    if n < 1:
        raise ValueError("n counts from 1")
    install()
    fault = FaultInjector(n=n, exception=exception, service=service, operation=operation, when=when)
    with _lock:
        _faults = (*_faults, fault)
    try:
        yield fault
    finally:
        with _lock:
            _faults = tuple(active for active in _faults if active is not fault)
