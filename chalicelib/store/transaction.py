"""One DynamoDB transaction (TransactWriteItems), and the one policy that commits it.

A :class:`Transaction` collects creates, replaces at a version, condition checks, updates and deletes,
and :meth:`Transaction.commit` sends them all or nothing:

- with a ``ClientRequestToken``, given by the caller or derived from the transaction's content, so that
  when a committed transaction's reply is lost and the SDK sends it again, DynamoDB answers the replay
  without applying it a second time;
- with :data:`TRANSACTION_RETRIES`, jittered exponential backoff, while DynamoDB cancels it for a
  concurrent transaction on the same items (``TransactionConflict``) or for throttling: nothing was
  applied, so the same writes are sent again and their conditions decide afresh;
- recognising its own earlier commit when a re-sent transaction is refused by its conditions: moto (the
  local engine) ignores the token and applies a replay again, which our ``does not exist`` and version
  conditions refuse; if every item the transaction puts is stored exactly as it put it, the transaction
  is the one that committed.

A condition that fails is a :class:`WriteConflictError` naming the positions (in the order the writes
were added) whose condition failed.

The derived token makes two transactions with the same content within DynamoDB's ten minutes one
transaction. Every transaction of ours creates a new item or moves a version or counter it read, so two
alike are a replay; a transaction of unconditional ``ADD`` updates alone must be given its own ``token``.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model

from chalicelib.errors import ConflictError
from chalicelib.store.base import MainItem

T = TypeVar("T")
MAX_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
_SEND_ORDER = {"ConditionCheck": 0, "Delete": 1, "Put": 2, "Update": 3}
# Cancellation reasons after which nothing was applied and the same writes may go again.
_RETRIED_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
# Refused before anything was applied (botocore already retried these a few times).
_THROTTLED = frozenset(
    {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"}
)
# The outcome is unknown (a send under the same token is still running, or DynamoDB failed midway).
_OUTCOME_UNKNOWN = frozenset({"TransactionInProgressException", "InternalServerError"})

_puts_committed: dict[str, int] = {}
_puts_lock = threading.Lock()


def puts_committed(table_name: str) -> int:
    """How many items this process's committed transactions have put into ``table_name``: the local event
    pump reads the events table's stream only when this moved (an empty simulated day reads nothing)."""
    with _puts_lock:
        return _puts_committed.get(table_name, 0)


def _count_puts(items: Sequence[Model]) -> None:
    with _puts_lock:
        for item in items:
            name = str(item.Meta.table_name)
            _puts_committed[name] = _puts_committed.get(name, 0) + 1


class WriteConflictError(ConflictError):
    """A transaction was cancelled: ``failed`` lists the positions, in the order the writes were added
    (for ``DocumentStore.write``: creates, replaces, conditions, updates, deletes), whose condition
    failed; empty when DynamoDB kept seeing a concurrent transaction on the same items."""

    def __init__(self, detail: str, failed: list[int]) -> None:
        super().__init__(detail)
        self.failed = failed


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how long apart, work that met a concurrent change or throttling is tried again:
    full-jitter exponential backoff (a random wait up to ``base * 2**attempt``, at most ``cap``)."""

    attempts: int = 8
    base_seconds: float = 0.004
    cap_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` + 1."""
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))

    def tries(self) -> Iterator[int]:
        """Attempt numbers 0, 1, ...; waits before each one after the first. Use as
        ``for _ in POLICY.tries(): try: ...; return ... except Conflict: continue`` then raise."""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.delay(attempt - 1))
            yield attempt


TRANSACTION_RETRIES = RetryPolicy()
"""The one retry policy for transactions and for the loops that re-read and retry them."""


@lru_cache(maxsize=8)
def _connection(region: str) -> Connection:
    """One PynamoDB connection per region for transactions: a new one builds a new botocore client
    (about 110 ms of CPU), which would dominate every write. botocore clients are thread-safe."""
    return Connection(region=region)


def forget_connections() -> None:
    """Drop cached connections (the local stack calls this when the emulator's endpoint changes)."""
    _connection.cache_clear()


def token_for(content: Any, attempt: int = 0) -> str:
    """A ClientRequestToken (36 characters) derived from a transaction's content and attempt number."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{text}#{attempt}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


@dataclass
class _Write:
    kind: str  # ConditionCheck, Delete, Put or Update: DynamoDB's names
    operation: dict[str, Any]
    item: Model | None = None  # the item a Put stores, to recognise our own commit


class Transaction:
    """Writes that commit together or not at all (at most :data:`MAX_ITEMS`)."""

    def __init__(self, token: str | None = None, policy: RetryPolicy | None = None) -> None:
        self._token = token
        self._policy = policy or TRANSACTION_RETRIES
        self._writes: list[_Write] = []

    def __len__(self) -> int:
        return len(self._writes)

    def create(self, item: Model) -> None:
        """Put ``item`` (of the main table, or an event of the events table), which must not exist yet."""
        model: Any = type(item)  # every model of ours has the hash key ``pk``
        condition = model.pk.does_not_exist()
        self._writes.append(_Write("Put", item.get_save_kwargs_from_instance(condition=condition), item))

    def replace(self, item: MainItem, expected_version: int) -> None:
        """Put ``item`` over the stored one if that is still at ``expected_version``; ``item`` gets the
        next version."""
        versioned: Any = item  # a document item: its ``version`` counts the replaces
        condition = type(versioned).version == expected_version
        versioned.version = expected_version + 1
        operation = item.get_save_kwargs_from_instance(condition=condition)
        self._writes.append(_Write("Put", operation, item))

    def condition_check(self, item: MainItem, condition: Any) -> None:
        """Require ``condition`` of the stored item at ``item``'s keys, writing nothing."""
        operation = type(item).get_operation_kwargs_from_class(item.pk, item.sk, condition=condition)
        self._writes.append(_Write("ConditionCheck", operation))

    def update(self, item: MainItem, actions: list[Any], condition: Any = None) -> None:
        """Apply update ``actions`` to the item at ``item``'s keys, if ``condition`` holds."""
        operation = item.get_update_kwargs_from_instance(actions=actions, condition=condition)
        self._writes.append(_Write("Update", operation))

    def delete(self, item: MainItem, condition: Any = None) -> None:
        """Delete the item at ``item``'s keys, if ``condition`` holds."""
        self._writes.append(_Write("Delete", item.get_delete_kwargs_from_instance(condition=condition)))

    def token(self, attempt: int = 0) -> str:
        """The ClientRequestToken of ``attempt``: the caller's, or derived from the content. An attempt
        after a cancellation (nothing applied) gets its own token, so that DynamoDB takes it for the new
        request it is."""
        if self._token is not None and attempt == 0:
            return self._token
        return token_for([self._token, [(w.kind, w.operation) for w in self._writes]], attempt)

    def commit(self) -> None:
        """Send the writes as one transaction under the retry policy; see the module's docstring."""
        if not self._writes:
            return
        if len(self._writes) > MAX_ITEMS:
            raise ValueError(f"a transaction holds at most {MAX_ITEMS} writes, not {len(self._writes)}")
        connection = _connection(MainItem.Meta.region)
        sent = send_order([w.kind for w in self._writes])
        token_attempt = 0
        sent_before = False
        last: TransactWriteError | None = None
        unknown = False
        for _ in self._policy.tries():
            try:
                self._send(connection, self.token(token_attempt), sent)
                _count_puts([w.item for w in self._writes if w.item is not None])
                return
            except TransactWriteError as error:
                last = error
                code, reasons, retries = _describe(error, sent)
                sent_before = sent_before or retries > 0
                unknown = code in _OUTCOME_UNKNOWN or _is_connection_error(error)
                if unknown:
                    # The send may have committed: ask again under the same token.
                    sent_before = True
                    continue
                if "ConditionalCheckFailed" in reasons:
                    if sent_before and self._is_stored():
                        _count_puts([w.item for w in self._writes if w.item is not None])
                        return
                    failed = [i for i, reason in enumerate(reasons) if reason == "ConditionalCheckFailed"]
                    raise WriteConflictError(
                        "the data changed or already exists; nothing was written", failed
                    ) from error
                if _RETRIED_REASONS & set(reasons):
                    token_attempt += 1  # cancelled, nothing applied: a new request
                    continue
                if code in _THROTTLED:
                    continue
                raise
        if unknown and last is not None:
            raise last  # whether it committed is not known: not a conflict
        # DynamoDB's last answer stays the cause: the API maps a race lost after the retries to a 503.
        raise WriteConflictError("concurrent transactions kept touching the same items; retry", []) from last

    def _send(self, connection: Connection, token: str, sent: list[int]) -> None:
        grouped: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _SEND_ORDER}
        for index in sent:
            grouped[self._writes[index].kind].append(self._writes[index].operation)
        connection.transact_write_items(
            condition_check_items=grouped["ConditionCheck"],
            delete_items=grouped["Delete"],
            put_items=grouped["Put"],
            update_items=grouped["Update"],
            client_request_token=token,
        )

    def _is_stored(self) -> bool:
        """Whether every item this transaction puts is stored exactly as it put it: then a send that
        committed lost its reply, and the refused replay is our own."""
        puts = [w.item for w in self._writes if w.item is not None]
        if not puts:
            return False
        for item in puts:
            keys: Any = item  # every model of ours has ``pk`` and ``sk``
            try:
                stored = type(item).get(keys.pk, keys.sk, consistent_read=True)
            except DoesNotExist:
                return False
            if stored.serialize() != item.serialize():
                return False
        return True


def send_order(kinds: Sequence[str]) -> list[int]:
    """The positions (in the order added) of writes of these kinds, in the order PynamoDB sends them:
    condition checks, deletes, puts, updates."""
    return sorted(range(len(kinds)), key=lambda i: _SEND_ORDER[kinds[i]])


def in_added_order(received: Sequence[T], sent: Sequence[int]) -> list[T]:
    """Per-write answers (cancellation reasons) put back from send order into the order added."""
    answers = list(received)
    for position, index in enumerate(sent):
        answers[index] = received[position]
    return answers


def _describe(error: TransactWriteError, sent: list[int]) -> tuple[str, list[str], int]:
    """The error code, the cancellation reasons in the order the writes were added ("None" where a
    write passed) and how many times the SDK re-sent the request."""
    received = [getattr(r, "code", None) or "None" for r in (error.cancellation_reasons or [])]
    reasons = in_added_order(received, sent) if len(received) == len(sent) else received
    code, retries = "", 0
    # PynamoDB re-raises botocore's ClientError as its own, without the response metadata: walk the chain.
    for cause in _causes(error):
        if isinstance(cause, ClientError):
            code = code or str(cause.response.get("Error", {}).get("Code", ""))
            retries = max(retries, int(cause.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)))
    return code, reasons, retries


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = getattr(seen, "cause", None) or seen.__cause__


def _is_connection_error(error: BaseException) -> bool:
    return any(isinstance(cause, ConnectionError | HTTPClientError) for cause in _causes(error))
