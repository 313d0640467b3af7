"""The store's one transaction object: its ClientRequestToken and its one retry policy."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from chalicelib.store.documents import DocumentItem
from chalicelib.store.transaction import RetryPolicy, Transaction, WriteConflictError


def _transaction(name: str = "a", **kwargs: Any) -> Transaction:
    transaction = Transaction(**kwargs)
    transaction.create(DocumentItem(f"DOC#{name}", "DOC", kind="doc", doc='{"x": 1}'))
    transaction.replace(DocumentItem("DOC#b", "DOC", kind="doc", doc='{"x": 2}'), 3)
    transaction.update(DocumentItem("COUNTER", "invoice"), [DocumentItem.status.set("taken")])
    return transaction


def _cancelled(*codes: str | None) -> TransactWriteError:
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
        "TransactWriteItems",
        cancellation_reasons=[CancellationReason(code=code) if code else None for code in codes],
    )
    return TransactWriteError("Failed to write transaction items", cause)


class _Table:
    """Answers each send with the next outcome (an error to raise, or None: committed)."""

    def __init__(self, *outcomes: TransactWriteError | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[tuple[str, list[dict[str, Any]]]] = []

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        order = [*kwargs["condition_check_items"], *kwargs["delete_items"], *kwargs["put_items"]]
        self.sent.append((kwargs["client_request_token"], [*order, *kwargs["update_items"]]))
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return {}


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> _Table:
    answers = _Table()
    monkeypatch.setattr("chalicelib.store.transaction._connection", lambda region: answers)
    return answers


def test_the_token_is_derived_from_the_content_unless_given() -> None:
    token = _transaction().token()
    assert len(token) == 36
    # The same writes give the same token (a retry of the whole commit is the same request) ...
    assert _transaction().token() == token
    # ... other writes another, and a caller's token wins
    assert _transaction("other").token() != token
    assert _transaction(token="order-42-attempt").token() == "order-42-attempt"
    # A new attempt after a cancellation is a new request: its own token
    assert _transaction().token(1) not in (token, _transaction().token(2))


def test_a_conflict_is_retried_with_backoff_and_a_new_token(table: _Table) -> None:
    sleeps: list[float] = []
    table.outcomes = [
        _cancelled(None, "TransactionConflict", None),
        _cancelled("ThrottlingError", None, None),
        None,
    ]
    transaction = _transaction(policy=RetryPolicy(attempts=4, base_seconds=0.01, sleep=sleeps.append))
    transaction.commit()
    tokens = [token for token, _ in table.sent]
    assert len(tokens) == 3
    assert len(set(tokens)) == 3
    assert tokens[0] == transaction.token()
    assert [table.sent[0][1]] * 3 == [writes for _, writes in table.sent]
    # Full jitter: each wait is at most base * 2**n
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.01
    assert 0 <= sleeps[1] <= 0.02


def test_a_conflict_that_does_not_end_is_a_write_conflict(table: _Table) -> None:
    table.outcomes = [_cancelled("TransactionConflict", None, None)] * 3
    with pytest.raises(WriteConflictError) as raised:
        _transaction(policy=RetryPolicy(attempts=3, sleep=lambda _: None)).commit()
    assert raised.value.failed == []
    assert len(table.sent) == 3


def test_a_failed_condition_names_the_write_in_the_order_added(table: _Table) -> None:
    # Sent as [create, replace, update]: PynamoDB sends puts before updates, as added here
    table.outcomes = [_cancelled(None, "ConditionalCheckFailed", None)]
    with pytest.raises(WriteConflictError) as raised:
        _transaction().commit()
    assert raised.value.failed == [1]
    assert len(table.sent) == 1  # a refused condition is not retried


def test_other_errors_are_not_retried(table: _Table) -> None:
    cause = VerboseClientError(
        {"Error": {"Code": "ValidationException", "Message": "no"}}, "TransactWriteItems"
    )
    table.outcomes = [TransactWriteError("Failed to write transaction items", cause)]
    with pytest.raises(TransactWriteError):
        _transaction().commit()
    assert len(table.sent) == 1


def test_the_policy_waits_between_tries_only() -> None:
    sleeps: list[float] = []
    policy = RetryPolicy(attempts=4, base_seconds=1.0, cap_seconds=1.5, sleep=sleeps.append)
    assert list(policy.tries()) == [0, 1, 2, 3]
    assert len(sleeps) == 3
    assert all(0 <= wait <= 1.5 for wait in sleeps)


def _read_timeout() -> TransactWriteError:
    return TransactWriteError("Failed to write transaction items", ReadTimeoutError(endpoint_url="http://db"))


def test_an_unknown_outcome_is_asked_again_under_the_same_token(table: _Table) -> None:
    table.outcomes = [_read_timeout(), None]
    transaction = _transaction(policy=RetryPolicy(sleep=lambda _: None))
    transaction.commit()
    assert [token for token, _ in table.sent] == [transaction.token()] * 2


def test_an_outcome_that_stays_unknown_is_not_called_a_conflict(table: _Table) -> None:
    table.outcomes = [_read_timeout()] * 2
    with pytest.raises(TransactWriteError) as raised:
        _transaction(policy=RetryPolicy(attempts=2, sleep=lambda _: None)).commit()
    assert not isinstance(raised.value, WriteConflictError)
