"""The life cycle of a day's AvtaleGiro file, shared by the claim and the deletion file.

The day's run creates its submission record (status ``claiming``) with the window of due dates of that
moment, lets the file's kind select its lines while the submission is ``claiming``, freezes the selection
(``claimed``), builds the file from the submission's lines (sorted, so the same lines give the same bytes),
puts it to ``avtalegiro/outgoing/<date>-<transmission>.txt`` and marks the submission ``written`` (or
``empty``). A written submission is never built again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.avtalegiro.models import (
    AvtaleGiroConfig,
    Submission,
    SubmissionLine,
    SubmissionStatus,
    config_key,
    submission_key,
)
from chalicelib.billing.models import Invoice
from chalicelib.clock import Clock, local_date
from chalicelib.errors import NotFoundError, UnavailableError
from chalicelib.formats.avtalegiro.claim_files import build_file
from chalicelib.formats.avtalegiro.claims import ClaimAssignment, ClaimTransmission, DueWindow, FileKind
from chalicelib.formats.avtalegiro.records import content_hash
from chalicelib.observability import logger
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, Keys, WriteConflictError, document_item

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OUTGOING = "avtalegiro/outgoing/"
READ_CHUNK = 100
DELETION_ORDINAL_BASE = 500


def file_number(day: date, ordinal: int) -> str:
    """A 7-digit number unique for ten years: last digit of the year, day of the year, ordinal."""
    return f"{day.year % 10}{day.timetuple().tm_yday:03d}{ordinal:03d}"


def outgoing_key(day: date, transmission_number: str) -> str:
    """Where a day's file is put in the bucket."""
    return f"{OUTGOING}{day.isoformat()}-{transmission_number}.txt"


def _pair(key: Keys) -> tuple[str, str]:
    return key.pk, key.sk


def _months(first: date, last: date) -> Iterator[date]:
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month + timedelta(days=32)).replace(day=1)


@dataclass
class SubmissionResult:
    """What one run did: the submission as it stands, and how many lines this run added."""

    submission: Submission
    added: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


class _DailyFiles:
    """The submission life cycle shared by claim and deletion files."""

    kind: FileKind

    def __init__(self, store: DocumentStore, s3: S3Client, bucket: str, clock: Clock) -> None:
        self._store = store
        self._s3 = s3
        self._bucket = bucket
        self._clock = clock

    def config(self) -> AvtaleGiroConfig:
        """The platform's AvtaleGiro configuration; 404 until set."""
        found = self._store.get_document(*_pair(config_key()), AvtaleGiroConfig)
        if found is None:
            raise NotFoundError("AvtaleGiro is not configured")
        return found

    def configure(self, config: AvtaleGiroConfig) -> AvtaleGiroConfig:
        """Set the data transmitter id and the sellers' agreements."""
        stored = self._store.get(*_pair(config_key()))
        item = document_item("avtalegiro_config", config_key(), config)
        if stored is None:
            self._store.write([item], [])
        else:
            self._store.write([], [(item, int(stored.version))])
        return config

    def submission(self, day: date) -> Submission | None:
        """The day's submission record."""
        return self._store.get_document(*_pair(submission_key(day, self.kind)), Submission)

    def _window(self, now: datetime) -> DueWindow:
        raise NotImplementedError

    def _select(self, submission: Submission, config: AvtaleGiroConfig, result: SubmissionResult) -> None:
        raise NotImplementedError

    def run(self, now: datetime | None = None) -> SubmissionResult:
        """Build (or finish) the day's file."""
        now = now or self._clock.now()
        # The file's day on Nets' calendar (Oslo), whatever the sellers' zones.
        day = local_date(now)
        config = self.config()
        stored = self._store.get(*_pair(submission_key(day, self.kind)))
        if stored is None:
            window = self._window(now)
            ordinal = 1 if self.kind == FileKind.CLAIMS else 2
            fresh = Submission(
                day=day,
                kind=self.kind,
                status=SubmissionStatus.CLAIMING,
                transmission_number=file_number(day, ordinal),
                earliest_due=window.earliest,
                latest_due=window.latest,
                created_at=now,
            )
            try:
                self._store.put_new(self._item(fresh))
            except WriteConflictError:
                return self.run(now)
            stored = self._store.get(*_pair(submission_key(day, self.kind)))
            assert stored is not None
        submission = stored.document(Submission)
        result = SubmissionResult(submission)
        if submission.status in (SubmissionStatus.WRITTEN, SubmissionStatus.EMPTY):
            return result
        if submission.status == SubmissionStatus.CLAIMING:
            self._select(submission, config, result)
            submission = self._advance(submission, {"status": SubmissionStatus.CLAIMED})
        lines = self.lines(day)
        if not lines:
            result.submission = self._advance(submission, {"status": SubmissionStatus.EMPTY})
            return result
        data = build_file(
            self._transmission(submission, config, lines), self.kind, self._file_window(submission)
        )
        key = outgoing_key(day, submission.transmission_number)
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=data, ContentType="text/plain; charset=iso-8859-1"
        )
        result.submission = self._advance(
            submission,
            {
                "status": SubmissionStatus.WRITTEN,
                "key": key,
                "sha256": content_hash(data),
                "claims": len(lines),
                "total_amount": sum(line.amount for line in lines),
                "written_at": self._clock.now(),
            },
        )
        logger.info(
            "AvtaleGiro file written",
            extra={"kind": self.kind.value, "key": key, "claims": len(lines), "added": result.added},
        )
        return result

    def _file_window(self, submission: Submission) -> DueWindow | None:
        return DueWindow(submission.earliest_due, submission.latest_due)

    def _item(self, submission: Submission, version: int = 1) -> DocumentItem:
        return document_item(
            f"avtalegiro_{self.kind.value}_submission",
            submission_key(submission.day, self.kind, listed=True),
            submission,
            status=submission.status,
            version=version,
        )

    def _advance(self, submission: Submission, changes: dict[str, object]) -> Submission:
        """Move the record on; a concurrent run that moved it first wins."""
        for _ in range(5):
            stored = self._store.get(*_pair(submission_key(submission.day, self.kind)))
            assert stored is not None
            current = stored.document(Submission)
            if current.status in (SubmissionStatus.WRITTEN, SubmissionStatus.EMPTY):
                return current
            changed = current.model_copy(update=changes)
            try:
                self._store.write([], [(self._item(changed), int(stored.version))])
                return changed
            except WriteConflictError:
                continue
        raise UnavailableError("the submission kept changing; it will be retried")

    def lines(self, day: date) -> list[SubmissionLine]:
        """Every line of the day's file, in invoice id order."""
        found: list[SubmissionLine] = []
        cursor: str | None = None
        pk = submission_key(day, self.kind).pk
        while True:
            page = self._store.query(pk, "LINE#", cursor=cursor)
            found.extend(item.document(SubmissionLine) for item in page.items if item.doc is not None)
            cursor = page.next_cursor
            if cursor is None:
                return found

    def _transmission(
        self, submission: Submission, config: AvtaleGiroConfig, lines: Sequence[SubmissionLine]
    ) -> ClaimTransmission:
        base = 0 if self.kind == FileKind.CLAIMS else DELETION_ORDINAL_BASE
        entities = sorted(config.agreements)
        by_entity: dict[str, list[SubmissionLine]] = {}
        for line in lines:
            by_entity.setdefault(line.legal_entity_id, []).append(line)
        assignments = []
        for entity_id in sorted(by_entity):
            agreement = config.agreements[entity_id]
            ordinal = base + entities.index(entity_id) + 1
            assignments.append(
                ClaimAssignment(
                    number=file_number(submission.day, ordinal),
                    agreement_id=agreement.agreement_id,
                    account=agreement.account,
                    claims=tuple(line.claim() for line in by_entity[entity_id]),
                )
            )
        return ClaimTransmission(
            number=submission.transmission_number,
            data_transmitter=config.data_transmitter,
            assignments=tuple(assignments),
        )

    def _invoices(self, ids: Sequence[str]) -> dict[str, tuple[Invoice, DocumentItem]]:
        found = self._store.batch_get(_pair(keys.invoice(ident)) for ident in ids)
        return {
            item.pk.removeprefix("INVOICE#"): (item.document(Invoice), item)
            for item in found.values()
            if item.doc is not None
        }
