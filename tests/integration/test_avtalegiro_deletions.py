"""The daily deletion file when DynamoDB cancels a chunk's transaction for a concurrent one on the same
items (TransactionConflict): the chunk is retried with the store's backoff, not dropped for the day; a
conflict that will not go away fails the run, and the rerun finishes the file."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

import chalicelib.store.transaction as transaction_module
from chalicelib.avtalegiro.models import ClaimStatus, SubmissionStatus
from chalicelib.avtalegiro.wiring import AvtaleGiro
from chalicelib.billing.drafts import document_item_for
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.container import Services
from chalicelib.errors import UnavailableError
from chalicelib.formats.avtalegiro.claim_files import parse_claim_file
from chalicelib.formats.avtalegiro.claims import FileKind
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem
from infra.awscalls import fail_at_call
from tests.integration.test_avtalegiro_claims import NOW
from tests.integration.test_avtalegiro_claims import setup as claimed_invoices

DELETION_DAY = NOW + timedelta(days=2)


def transaction_conflict(items: int) -> ClientError:
    """What DynamoDB answers when another transaction holds one of the items: the whole transaction is
    cancelled, one reason per item, none a failed condition."""
    reasons = [{"Code": "None"}] * (items - 1) + [
        {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    ]
    response: Any = {
        "Error": {
            "Code": "TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
        },
        "CancellationReasons": reasons,
    }
    return ClientError(response, "TransactWriteItems")


@contextlib.contextmanager
def conflicting_deletions(services: Services, times: int) -> Iterator[list[int]]:
    """The next ``times`` sends of the deletion's transaction are cancelled by DynamoDB for a concurrent
    transaction (the request fails at the AWS call, so the store maps DynamoDB's own answer); yields the
    sizes of the sends that were cancelled."""
    store = services.documents
    real = store.write
    cancelled: list[int] = []

    def write(creates: Sequence[DocumentItem], replaces: Any, *args: Any, **kwargs: Any) -> None:
        is_deletion = any(item.kind == "avtalegiro_deletion_line" for item in creates)
        if not is_deletion or len(cancelled) >= times:
            real(creates, replaces, *args, **kwargs)
            return
        size = len(creates) + len(replaces) + len(kwargs.get("conditions", ()))
        with contextlib.ExitStack() as faults:
            # Each injector fails the first send it sees: together, the next sends in a row.
            injected = [
                faults.enter_context(
                    fail_at_call(1, transaction_conflict(size), operation="TransactWriteItems")
                )
                for _ in range(times - len(cancelled))
            ]
            try:
                real(creates, replaces, *args, **kwargs)
            finally:
                cancelled.extend(size for fault in injected if fault.fired)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "write", write)
        yield cancelled


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits of the store's transaction retry policy, recorded instead of slept."""
    recorded: list[float] = []
    policy = dataclasses.replace(transaction_module.TRANSACTION_RETRIES, sleep=recorded.append)
    monkeypatch.setattr(transaction_module, "TRANSACTION_RETRIES", policy)
    return recorded


def credit(services: Services, invoice: Invoice) -> None:
    stored = services.documents.get(keys.invoice(invoice.id).pk, "INVOICE")
    assert stored is not None
    credited = invoice.model_copy(update={"status": InvoiceStatus.CREDITED, "open_amount": 0})
    services.documents.write([], [(document_item_for(credited), int(stored.version))])


def claimed_then_credited(
    services: Services, api: Client, admin: dict[str, str]
) -> tuple[AvtaleGiro, Invoice]:
    [invoice] = claimed_invoices(services, api, admin, customers=1)
    avtalegiro = services.avtalegiro
    assert avtalegiro.claims.run(NOW).added == 1
    credit(services, invoice)
    return avtalegiro, invoice


def deleted_kids(services: Services, key: str | None) -> list[str]:
    assert key is not None
    data = services.s3.get_object(Bucket=services.settings.documents_bucket, Key=key)["Body"].read()
    parsed = parse_claim_file(data)
    assert parsed.kind == FileKind.DELETIONS
    return [c.kid for a in parsed.transmission.assignments for c in a.claims]


def test_a_chunk_cancelled_for_a_concurrent_transaction_is_retried_with_backoff(
    services: Services, api: Client, admin: dict[str, str], waits: list[float]
) -> None:
    # Given a claimed invoice credited before its due date
    avtalegiro, invoice = claimed_then_credited(services, api, admin)
    # When DynamoDB cancels the deletion's transaction three times for a concurrent one
    with conflicting_deletions(services, times=3) as cancelled:
        result = avtalegiro.deletions.run(DELETION_DAY)
    # Then the same chunk (marker, line, the submission's condition) was sent again after each backoff,
    # each wait a random one up to the policy's exponential bound
    assert cancelled == [3, 3, 3]
    policy = transaction_module.TRANSACTION_RETRIES
    assert len(waits) == 3
    assert all(0 <= wait <= policy.base_seconds * 2**n for n, wait in enumerate(waits))
    # And the claim is deleted in the day's file
    assert (result.submission.status, result.added, result.submission.claims) == (
        SubmissionStatus.WRITTEN,
        1,
        1,
    )
    assert deleted_kids(services, result.submission.key) == [invoice.kid]
    marker = avtalegiro.deletions.marker(invoice.id)
    assert marker is not None
    assert (marker.status, marker.deleted_on) == (ClaimStatus.DELETED, DELETION_DAY.date())


def test_a_conflict_that_does_not_go_away_fails_the_run_and_the_rerun_finishes_the_file(
    services: Services, api: Client, admin: dict[str, str], waits: list[float]
) -> None:
    # Given a claimed invoice credited before its due date
    avtalegiro, invoice = claimed_then_credited(services, api, admin)
    attempts = transaction_module.TRANSACTION_RETRIES.attempts
    # When every attempt is cancelled for a concurrent transaction
    with conflicting_deletions(services, times=attempts) as cancelled, pytest.raises(UnavailableError):
        avtalegiro.deletions.run(DELETION_DAY)
    # Then the run gave up after a bounded number of attempts, without freezing the day's selection
    assert len(cancelled) == attempts and len(waits) == attempts - 1
    submission = avtalegiro.deletions.submission(DELETION_DAY.date())
    assert submission is not None and submission.status == SubmissionStatus.CLAIMING
    marker = avtalegiro.deletions.marker(invoice.id)
    assert marker is not None and marker.status == ClaimStatus.CLAIMED
    # When the run is retried (the schedule's retry) and DynamoDB answers
    result = avtalegiro.deletions.run(DELETION_DAY + timedelta(minutes=5))
    # Then the day's file deletes the claim, once
    assert (result.submission.status, result.added) == (SubmissionStatus.WRITTEN, 1)
    assert deleted_kids(services, result.submission.key) == [invoice.kid]
    assert avtalegiro.deletions.run(DELETION_DAY + timedelta(minutes=10)).added == 0
