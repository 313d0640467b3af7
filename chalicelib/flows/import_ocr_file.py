"""The flow that imports an OCR giro file from the bucket into the ledger.

A file is known by the SHA-256 of its bytes: its report (``PAYFILE#<sha256>``) is created before the
first payment is written, so a second drop of the same bytes is reported as a duplicate and imports
nothing. Each transaction is one DynamoDB transaction that creates its payment (id derived from Nets'
identity of the transaction, created only if it does not exist) together with its ledger effect and the
report's tallies; a crash anywhere and a rerun therefore end where one complete run ends. A file that
fails validation is rejected whole: only its report is written. A transaction the file is sound around but
that cannot be imported (an amount beyond :data:`~chalicelib.money.MAX_AMOUNT`) is left out: its reason is
in the report's ``reasons`` and its count and sum in the ``rejected`` tally, written with the report.

Big files are worked through a hundred transactions at a time (their KIDs, invoices and accounts read in
batches); when the Lambda's time runs short the import stops and says so, and the handler queues a
continuation that resumes after the last payment written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.billing.models import Invoice
from chalicelib.clock import Clock
from chalicelib.errors import NotFoundError, UnavailableError
from chalicelib.formats.ocr import parse_ocr
from chalicelib.formats.ocr_values import (
    KidStatus,
    OcrFile,
    OcrRejectedError,
    OcrTransaction,
    content_hash,
)
from chalicelib.ledger.models import (
    FileArrival,
    FileStatus,
    IncomingMethod,
    PaymentFile,
    PaymentStatus,
    RejectionReason,
)
from chalicelib.ledger.posting import Book, TallyItem, Update, tally
from chalicelib.ledger.recording import IncomingPayment, RecordedPayment
from chalicelib.ledger.service import ATTEMPTS, LedgerService, backoff
from chalicelib.money import Currency
from chalicelib.observability import logger
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, Page, WriteConflictError, document_item

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK = 100
SOURCE = "ocr"


@dataclass(frozen=True)
class Tally:
    """A count and a sum."""

    count: int = 0
    amount: int = 0


@dataclass(frozen=True)
class FileReport:
    """A payment file's report: the stored document and the tallies of its transactions by outcome."""

    file: PaymentFile
    tallies: dict[str, Tally]

    @property
    def duplicates(self) -> int:
        """How many times the same bytes were dropped again."""
        return sum(1 for arrival in self.file.arrivals if arrival.duplicate)


@dataclass
class ImportResult:
    """What one run of an import did."""

    file_id: str
    status: FileStatus
    duplicate: bool = False
    finished: bool = True
    imported: int = 0
    skipped: int = 0
    rejected: int = 0
    became_paid: list[str] = field(default_factory=list)


Deadline = Callable[[], bool]


def _never() -> bool:
    return False


def incoming(transaction: OcrTransaction, file_id: str) -> IncomingPayment:
    """An OCR transaction as a payment for the ledger."""
    return IncomingPayment(
        source=SOURCE,
        source_reference=transaction.identity,
        method=IncomingMethod.AVTALEGIRO if transaction.is_avtalegiro else IncomingMethod.GIRO,
        amount=transaction.amount,
        currency=Currency.NOK,
        paid_on=transaction.nets_date,
        kid=transaction.kid,
        kid_valid=transaction.kid_status == KidStatus.VALID,
        payer_account=transaction.debit_account,
        text=transaction.text,
        file_id=file_id,
    )


def _chunks(items: Sequence[OcrTransaction], size: int) -> Iterator[Sequence[OcrTransaction]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OcrImports:
    """Imports OCR giro files and keeps their reports."""

    def __init__(self, store: DocumentStore, s3: S3Client, ledger: LedgerService, clock: Clock) -> None:
        self._store = store
        self._s3 = s3
        self._ledger = ledger
        self._clock = clock

    # ---- importing -----------------------------------------------------------------------------------

    def import_object(self, bucket: str, key: str, etag: str, deadline: Deadline = _never) -> ImportResult:
        """Import the object at ``bucket``/``key`` (the version with ``etag`` when given)."""
        extra = {"IfMatch": etag} if etag else {}
        data = self._s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()  # type: ignore[arg-type]
        return self.import_bytes(
            data, FileArrival(bucket=bucket, key=key, etag=etag, received_at=self._clock.now()), deadline
        )

    def import_bytes(self, data: bytes, arrival: FileArrival, deadline: Deadline = _never) -> ImportResult:
        """Import a file's bytes that arrived as ``arrival``."""
        file_id = content_hash(data)
        existing = self._store.get(*_report_keys(file_id))
        if existing is not None and existing.doc is not None:
            report = existing.document(PaymentFile)
            if _same_drop(report, arrival):
                if report.status != FileStatus.IMPORTING:
                    return ImportResult(file_id, report.status)
                return self._run(parse_ocr(data), report, arrival, deadline, resume=True)
            self._add_duplicate(file_id, arrival)
            logger.info("payment file dropped again", extra={"file_id": file_id, "key": arrival.key})
            return ImportResult(file_id, report.status, duplicate=True)
        try:
            parsed = parse_ocr(data)
        except OcrRejectedError as rejected:
            return self._reject(file_id, data, arrival, rejected)
        rejections = parsed.rejections
        report = PaymentFile(
            id=file_id,
            status=FileStatus.IMPORTING,
            arrivals=[arrival],
            size=len(data),
            transmission_number=parsed.transmission_number,
            nets_date=parsed.nets_date,
            transactions=len(parsed.transactions),
            total_amount=parsed.total_amount,
            reasons=[RejectionReason(code=r.code, message=r.message, line=r.line) for _, r in rejections],
            created_at=arrival.received_at,
        )
        left_out = [
            tally(*_tally_keys(file_id, "rejected"), len(rejections), sum(t.amount for t, _ in rejections))
        ]
        try:
            self._store.write([_report_item(report)], [], updates=left_out if rejections else [])
        except WriteConflictError:
            return self.import_bytes(data, arrival, deadline)  # another run created it first
        return self._run(parsed, report, arrival, deadline, resume=False)

    def _reject(
        self, file_id: str, data: bytes, arrival: FileArrival, rejected: OcrRejectedError
    ) -> ImportResult:
        report = PaymentFile(
            id=file_id,
            status=FileStatus.REJECTED,
            arrivals=[arrival],
            size=len(data),
            reasons=[RejectionReason(code=r.code, message=r.message, line=r.line) for r in rejected.reasons],
            created_at=arrival.received_at,
            finished_at=arrival.received_at,
        )
        try:
            self._store.write([_report_item(report)], [])
        except WriteConflictError:
            return self.import_bytes(data, arrival)
        logger.warning("payment file rejected", extra={"file_id": file_id, "reasons": str(rejected)})
        return ImportResult(file_id, FileStatus.REJECTED)

    def _add_duplicate(self, file_id: str, arrival: FileArrival) -> None:
        for _ in range(5):
            stored = self._store.get(*_report_keys(file_id))
            if stored is None or stored.doc is None:
                return
            report = stored.document(PaymentFile)
            if _same_drop(report, arrival):
                return
            updated = report.model_copy(
                update={"arrivals": [*report.arrivals, arrival.model_copy(update={"duplicate": True})]}
            )
            item = _report_item(updated)
            item.version = int(stored.version)
            try:
                self._store.write([], [(item, int(stored.version))])
                return
            except WriteConflictError:
                continue

    def _run(
        self, parsed: OcrFile, report: PaymentFile, arrival: FileArrival, deadline: Deadline, *, resume: bool
    ) -> ImportResult:
        result = ImportResult(report.id, FileStatus.IMPORTING, rejected=len(parsed.rejections))
        book = self._ledger.book()
        for chunk in _chunks(parsed.importable, CHUNK):
            # Every invocation imports at least one chunk before it may stop: reruns always progress.
            if result.imported and deadline():
                result.finished = False
                return result
            payments = [incoming(t, report.id) for t in chunk]
            done = self._ledger.recorded([p.payment_id for p in payments]) if resume else set()
            todo = [p for p in payments if p.payment_id not in done]
            result.skipped += len(payments) - len(todo)
            self._prefetch(book, todo)
            for payment in todo:
                recorded = self._record(payment, book, report)
                if recorded.duplicate:
                    result.skipped += 1
                    continue
                result.imported += 1
                result.became_paid.extend(recorded.became_paid)
        self._finish(report.id)
        result.status = FileStatus.IMPORTED
        logger.info(
            "payment file imported",
            extra={
                "file_id": report.id,
                "imported": result.imported,
                "skipped": result.skipped,
                "rejected": result.rejected,
            },
        )
        return result

    def _record(self, payment: IncomingPayment, book: Book, report: PaymentFile) -> RecordedPayment:
        """Record one payment with the file's tallies in the same transaction. Its entries are booked at
        the file's arrival, so that a rerun books exactly what the first run would have."""
        file_id = report.id
        for attempt in range(ATTEMPTS):
            planned = self._ledger.plan_payment(payment, book, report.created_at)
            outcome = planned.payment
            updates: list[Update] = [_file_tally(file_id, "received", outcome.amount)]
            if outcome.status == PaymentStatus.SUSPENSE:
                updates.append(_file_tally(file_id, "suspense", outcome.amount))
                updates.append(_file_tally(file_id, f"suspense:{outcome.suspense_reason}", outcome.amount))
            else:
                updates.append(_file_tally(file_id, "matched", outcome.amount))
                applied = sum(a.amount for a in outcome.allocations)
                if applied:
                    updates.append(_file_tally(file_id, "applied", applied))
                if outcome.to_credit:
                    updates.append(_file_tally(file_id, "credit", outcome.to_credit))
                if outcome.refunded:
                    updates.append(_file_tally(file_id, "refunded", outcome.refunded))
                if outcome.became_paid:
                    key = keys.payment_file_tally(file_id, "paid_invoices")
                    updates.append(tally(key.pk, key.sk, len(outcome.became_paid), 0))
            if outcome.amount < 0:
                updates.append(_file_tally(file_id, "reversals", outcome.amount))
            try:
                if self._ledger.commit(planned, book, updates):
                    return RecordedPayment(outcome, False, outcome.became_paid)
                return RecordedPayment(outcome, True, [])
            except WriteConflictError:
                backoff(attempt)
        raise UnavailableError("accounts kept changing during the import; it will be retried")

    def _prefetch(self, book: Book, payments: Sequence[IncomingPayment]) -> None:
        book.prefetch_kids(p.kid for p in payments if p.kid and p.kid_valid)
        owners = []
        for payment in payments:
            item = book.invoice_by_kid(payment.kid) if payment.kid and payment.kid_valid else None
            if item is not None and item.doc is not None:
                invoice = item.document(Invoice)
                owners.append((invoice.customer_id, invoice.legal_entity_id, invoice.currency.value))
        book.prefetch_accounts(owners)

    def _finish(self, file_id: str) -> None:
        for _ in range(5):
            stored = self._store.get(*_report_keys(file_id))
            if stored is None or stored.doc is None:
                return
            report = stored.document(PaymentFile)
            if report.status != FileStatus.IMPORTING:
                return
            done = report.model_copy(update={"status": FileStatus.IMPORTED, "finished_at": self._clock.now()})
            item = _report_item(done)
            item.version = int(stored.version)
            try:
                self._store.write([], [(item, int(stored.version))])
                return
            except WriteConflictError:
                continue

    # ---- reports -------------------------------------------------------------------------------------

    def report(self, file_id: str) -> FileReport:
        """One file's report, or 404."""
        stored = self._store.get(*_report_keys(file_id))
        if stored is None or stored.doc is None:
            raise NotFoundError(f"no payment file {file_id}")
        return FileReport(stored.document(PaymentFile), self._tallies(file_id))

    def _tallies(self, file_id: str) -> dict[str, Tally]:
        prefix = keys.payment_file_tally(file_id, "")
        return {
            row.sk.removeprefix(prefix.sk): Tally(int(row.quantity or 0), int(row.total or 0))
            for row in TallyItem.query(prefix.pk, TallyItem.sk.startswith(prefix.sk), consistent_read=True)
        }

    def reports(self, limit: int, cursor: str | None) -> Page[FileReport]:
        """Files, oldest first, with their tallies (one query per file listed)."""
        page = self._store.page("PAYFILES", PaymentFile, limit, cursor)
        return Page([FileReport(f, self._tallies(f.id)) for f in page.items], page.next_cursor)


def _file_tally(file_id: str, outcome: str, amount: int) -> Update:
    return tally(*_tally_keys(file_id, outcome), 1, amount)


def _tally_keys(file_id: str, outcome: str) -> tuple[str, str]:
    key = keys.payment_file_tally(file_id, outcome)
    return key.pk, key.sk


def _report_keys(file_id: str) -> tuple[str, str]:
    key = keys.payment_file(file_id)
    return key.pk, key.sk


def _report_item(report: PaymentFile) -> DocumentItem:
    return document_item(
        "payment_file", keys.payment_file(report.id, report.created_at), report, report.status
    )


def _same_drop(report: PaymentFile, arrival: FileArrival) -> bool:
    return any(
        a.bucket == arrival.bucket and a.key == arrival.key and a.etag == arrival.etag
        for a in report.arrivals
    )


def seconds_left(remaining_ms: Callable[[], int], margin_seconds: float = 30.0) -> Deadline:
    """A deadline from a Lambda context's remaining time."""
    started = time.monotonic()

    def passed() -> bool:
        return remaining_ms() / 1000 < margin_seconds and time.monotonic() > started

    return passed


__all__ = ["FileReport", "ImportResult", "OcrImports", "Tally", "incoming", "seconds_left"]
