"""The daily deletion file: claims whose invoice was credited (a credit note, a stop) or otherwise paid
before the due date, deleted while Nets still takes deletions (a bank day's cut-off before the due date).

Candidates are the claim markers due inside the deletion window (gsi1 by due month); a claim is deleted
when its invoice's open amount fell below the amount claimed. Per claim, one transaction marks the marker
``deleted`` (at the version read: once) and adds the line, the same fields as the claim, to the day's
deletion submission. The submission's life cycle, crash safety and the file are those of the claims.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from chalicelib.avtalegiro.daily_files import READ_CHUNK, SubmissionResult, _DailyFiles, _months, _pair
from chalicelib.avtalegiro.models import (
    AvtaleGiroConfig,
    ClaimMarker,
    ClaimStatus,
    Submission,
    SubmissionStatus,
    claim_marker_key,
    claimed_month,
    submission_key,
    submission_line_key,
)
from chalicelib.avtalegiro.window import deletion_window
from chalicelib.errors import UnavailableError
from chalicelib.formats.avtalegiro.claims import DueWindow, FileKind
from chalicelib.store.documents import DocumentItem, WriteConflictError, document_item

CLAIMS_PER_TRANSACTION = 49  # two items each, plus the submission's condition


class DeletionFiles(_DailyFiles):
    """The daily deletion file."""

    kind = FileKind.DELETIONS

    def _window(self, now: datetime) -> DueWindow:
        return deletion_window(now)

    def _file_window(self, submission: Submission) -> DueWindow | None:
        return DueWindow(submission.earliest_due, submission.latest_due)

    def _markers(self, window: DueWindow) -> Iterator[list[tuple[ClaimMarker, int]]]:
        batch: list[tuple[ClaimMarker, int]] = []
        for month in _months(window.earliest, window.latest):
            query = DocumentItem.gsi1.query(
                claimed_month(month),
                range_key_condition=DocumentItem.gsi1sk.between(
                    window.earliest.isoformat(), f"{window.latest.isoformat()}~"
                ),
            )
            for item in query:
                if item.doc is None or item.status != ClaimStatus.CLAIMED.value:
                    continue
                batch.append((item.document(ClaimMarker), int(item.version)))
                if len(batch) == READ_CHUNK:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _select(self, submission: Submission, config: AvtaleGiroConfig, result: SubmissionResult) -> None:
        window = DueWindow(submission.earliest_due, submission.latest_due)
        for batch in self._markers(window):
            invoices = self._invoices([marker.invoice_id for marker, _ in batch])
            due = [
                (marker, version)
                for marker, version in batch
                if marker.invoice_id in invoices
                and invoices[marker.invoice_id][0].open_amount < marker.line.amount
                and marker.line.legal_entity_id in config.agreements
            ]
            for start in range(0, len(due), CLAIMS_PER_TRANSACTION):
                result.added += self._delete(submission, due[start : start + CLAIMS_PER_TRANSACTION])

    def _delete(self, submission: Submission, markers: list[tuple[ClaimMarker, int]]) -> int:
        """Delete one chunk of claims in one transaction. A marker that moved on (deleted by another run)
        leaves the chunk; a concurrent transaction on the same items (DynamoDB's TransactionConflict) is
        retried by the store's transaction policy, and when that gives up the run fails and its rerun
        finishes (the submission is still ``claiming``)."""
        todo = list(markers)
        sub = submission_key(submission.day, self.kind)
        while todo:
            creates: list[DocumentItem] = []
            replaces: list[tuple[DocumentItem, int]] = []
            for marker, version in todo:
                deleted = marker.model_copy(
                    update={"status": ClaimStatus.DELETED, "deleted_on": submission.day}
                )
                replaces.append(
                    (
                        document_item(
                            "avtalegiro_claim",
                            claim_marker_key(marker.invoice_id, marker.line.due_date),
                            deleted,
                            status=deleted.status,
                        ),
                        version,
                    )
                )
                creates.append(
                    document_item(
                        "avtalegiro_deletion_line",
                        submission_line_key(submission.day, self.kind, marker.invoice_id),
                        marker.line,
                    )
                )
            condition = (DocumentItem(sub.pk, sub.sk), DocumentItem.status == SubmissionStatus.CLAIMING.value)
            try:
                self._store.write(creates, replaces, conditions=[condition])
                return len(todo)
            except WriteConflictError as error:
                if not error.failed:
                    # Nothing failed its condition: the transaction's own retries met concurrent ones.
                    raise UnavailableError(
                        "deletions kept meeting concurrent transactions; the run will be retried"
                    ) from error
                if len(creates) + len(replaces) in error.failed:
                    return 0  # the selection was frozen by a concurrent run
                moved = {todo[p - len(creates)][0].invoice_id for p in error.failed if p >= len(creates)}
                moved |= {todo[p][0].invoice_id for p in error.failed if p < len(creates)}
                # A marker that moved on was deleted by another run; the rest is tried again.
                todo = [(m, v) for m, v in todo if m.invoice_id not in moved]
        return 0

    def marker(self, invoice_id: str) -> ClaimMarker | None:
        """An invoice's claim marker."""
        return self._store.get_document(*_pair(claim_marker_key(invoice_id)), ClaimMarker)
