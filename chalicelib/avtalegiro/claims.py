"""The daily AvtaleGiro claim file, each invoice claimed exactly once.

Invoices enter the claim index when issued (:func:`claim_index_writes`, one item per invoice under
``AGCLAIM#<due date>``, listed by due month in gsi1). The day's run (its submission's life cycle is
:mod:`chalicelib.avtalegiro.daily_files`, shared with the deletion file):

1. creates the day's submission record (status ``claiming``) with the window of due dates of that moment;
2. claims every indexed invoice whose due date is inside the window, whose seller has an agreement, and
   whose payer's mandate was active when it was issued: per invoice, one transaction creates its claim
   marker (only if none exists: an invoice is claimed once, ever), creates its line in the submission's
   partition and removes it from the index, while the submission is still ``claiming``;
3. freezes the selection (``claimed``), builds the file from the submission's lines (sorted, so the same
   lines give the same bytes), puts it to ``avtalegiro/outgoing/<date>-<transmission>.txt`` and marks the
   submission ``written``.

A crash anywhere and a rerun end as one complete run: a claimed invoice has left the index together with
its marker, the lines say what the file holds, and a written submission is never built again. Running
twice on one day claims nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

from chalicelib.avtalegiro.daily_files import READ_CHUNK, SubmissionResult, _DailyFiles, _months, _pair
from chalicelib.avtalegiro.models import (
    AvtaleGiroConfig,
    ClaimMarker,
    ClaimStatus,
    Mandate,
    MandateStatus,
    Submission,
    SubmissionLine,
    SubmissionStatus,
    claim_index_key,
    claim_marker_key,
    claim_month,
    claimed_month,
    mandate_key,
    submission_key,
    submission_line_key,
)
from chalicelib.avtalegiro.window import due_window
from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.models import LegalEntity
from chalicelib.errors import UnavailableError
from chalicelib.formats.avtalegiro.claims import (
    MAX_PAYER_NAME,
    MAX_REFERENCE,
    MAX_SPECIFICATION_LINE,
    MAX_SPECIFICATION_LINES,
    DueWindow,
    FileKind,
)
from chalicelib.ledger.service import ATTEMPTS
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, WriteConflictError, document_item, lookup_item
from chalicelib.subscriptions.models import PaymentAgreement, Subscription
from chalicelib.values import PaymentMethod

CLAIMS_PER_TRANSACTION = 33  # three items each, plus the submission's condition: 100


def claim_index_writes(invoice: Invoice) -> list[DocumentItem]:
    """The claim-index entry of an issued, open AvtaleGiro invoice (none for anything else). Write it
    in the transaction that issues the invoice."""
    if (
        invoice.kind != InvoiceKind.INVOICE
        or invoice.payment_method != PaymentMethod.AVTALEGIRO
        or invoice.status != InvoiceStatus.ISSUED
        or invoice.open_amount <= 0
        or invoice.currency != Currency.NOK
        or not invoice.kid
    ):
        return []
    entry = claim_index_key(invoice.due_date, invoice.id)
    item = lookup_item(entry.pk, keys.invoice(invoice.id), kind="avtalegiro_claim_index", sk=entry.sk)
    assert entry.gsi1 is not None
    item.gsi1pk, item.gsi1sk = entry.gsi1
    return [item]


def _chunks(items: Sequence[Invoice], size: int) -> Iterator[Sequence[Invoice]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _nok(amount: int) -> str:
    whole, cents = divmod(amount, 100)
    return f"{whole:,}".replace(",", " ") + f",{cents:02d}"


def reference_for(invoice: Invoice, seller: LegalEntity) -> str:
    """The text on the payer's statement (at most 25 characters): invoice number and seller."""
    return f"Faktura {invoice.number} {seller.name}"[:MAX_REFERENCE].rstrip()


def specification_for(invoice: Invoice, seller: LegalEntity) -> list[str]:
    """The bank's notice (type 21): seller, invoice, due date, one line per invoice line, the total; at
    most 42 lines of at most 80 characters, none blank."""
    head = [
        seller.name[:MAX_SPECIFICATION_LINE],
        f"Faktura {invoice.number}  Forfall {invoice.due_date:%d.%m.%Y}  KID {invoice.kid}",
    ]
    body = [
        f"{(line.text.strip() or line.kind.value)[:60]:<60} {_nok(line.gross):>15}" for line in invoice.lines
    ]
    room = MAX_SPECIFICATION_LINES - len(head) - 1
    if len(body) > room:
        rest = sum(line.gross for line in invoice.lines[room - 1 :])
        body = [*body[: room - 1], f"{'Øvrige linjer':<60} {_nok(rest):>15}"]
    total = f"{'Å betale':<60} {_nok(invoice.open_amount):>15}"
    return [line.rstrip()[:MAX_SPECIFICATION_LINE] for line in [*head, *body, total] if line.strip()]


class ClaimFiles(_DailyFiles):
    """The daily claim file."""

    kind = FileKind.CLAIMS

    def _window(self, now: datetime) -> DueWindow:
        return due_window(now)

    def _candidates(self, window: DueWindow) -> Iterator[list[str]]:
        """Invoice ids in the claim index due inside the window, a hundred at a time."""
        batch: list[str] = []
        for month in _months(window.earliest, window.latest):
            query = DocumentItem.gsi1.query(
                claim_month(month),
                range_key_condition=DocumentItem.gsi1sk.between(
                    window.earliest.isoformat(), f"{window.latest.isoformat()}~"
                ),
            )
            for item in query:
                batch.append(item.sk.removeprefix("INVOICE#"))
                if len(batch) == READ_CHUNK:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _select(self, submission: Submission, config: AvtaleGiroConfig, result: SubmissionResult) -> None:
        window = DueWindow(submission.earliest_due, submission.latest_due)
        sellers = self._sellers(config)
        for ids in self._candidates(window):
            invoices = self._invoices(ids)
            mandates = self._mandates([invoice for invoice, _ in invoices.values()])
            eligible: list[Invoice] = []
            stale: list[Invoice] = []
            for ident in ids:
                if ident not in invoices:
                    continue
                invoice = invoices[ident][0]
                verdict = _verdict(invoice, mandates.get(invoice.id), window, sellers)
                if verdict == "claim":
                    eligible.append(invoice)
                else:
                    result.skipped[verdict] = result.skipped.get(verdict, 0) + 1
                    if verdict in _FINAL:
                        stale.append(invoice)
            self._drop_from_index(stale)
            for chunk in _chunks(eligible, CLAIMS_PER_TRANSACTION):
                result.added += self._claim(submission, chunk, mandates, config, sellers)

    def _sellers(self, config: AvtaleGiroConfig) -> dict[str, LegalEntity]:
        found = self._store.batch_get(_pair(keys.legal_entity(ident)) for ident in config.agreements)
        sellers = (item.document(LegalEntity) for item in found.values() if item.doc is not None)
        return {seller.id: seller for seller in sellers}

    def _mandates(self, invoices: Sequence[Invoice]) -> dict[str, Mandate]:
        """Each invoice's mandate: invoice → subscription → agreement → mandate by the agreement's KID."""
        subs = self._store.batch_get(
            _pair(keys.subscription(invoice.subscription_id))
            for invoice in invoices
            if invoice.subscription_id
        )
        subscriptions = {
            s.id: s for s in (item.document(Subscription) for item in subs.values() if item.doc is not None)
        }
        found = self._store.batch_get(_pair(keys.agreement(s.agreement_id)) for s in subscriptions.values())
        agreements = {
            a.id: a
            for a in (item.document(PaymentAgreement) for item in found.values() if item.doc is not None)
        }
        kids = {a.kid for a in agreements.values() if a.kid}
        stored = self._store.batch_get(_pair(mandate_key(kid)) for kid in kids)
        by_kid = {
            m.kid: m for m in (item.document(Mandate) for item in stored.values() if item.doc is not None)
        }
        mandates: dict[str, Mandate] = {}
        for invoice in invoices:
            subscription = subscriptions.get(invoice.subscription_id or "")
            agreement = agreements.get(subscription.agreement_id) if subscription else None
            mandate = by_kid.get(agreement.kid or "") if agreement else None
            if mandate is not None:
                mandates[invoice.id] = mandate
        return mandates

    def _claim(
        self,
        submission: Submission,
        invoices: Sequence[Invoice],
        mandates: dict[str, Mandate],
        config: AvtaleGiroConfig,
        sellers: dict[str, LegalEntity],
    ) -> int:
        todo = list(invoices)
        for _ in range(ATTEMPTS):  # each round drops the invoices claimed meanwhile
            if not todo:
                return 0
            creates: list[DocumentItem] = []
            deletes: list[DocumentItem] = []
            for invoice in todo:
                line = _line(invoice, mandates[invoice.id], config, sellers[invoice.legal_entity_id])
                marker = ClaimMarker(
                    invoice_id=invoice.id,
                    customer_id=invoice.customer_id,
                    legal_entity_id=invoice.legal_entity_id,
                    status=ClaimStatus.CLAIMED,
                    submitted_on=submission.day,
                    line=line,
                )
                creates.append(
                    document_item(
                        "avtalegiro_claim",
                        claim_marker_key(invoice.id, invoice.due_date),
                        marker,
                        status=marker.status,
                    )
                )
                creates.append(
                    document_item(
                        "avtalegiro_claim_line",
                        submission_line_key(submission.day, self.kind, invoice.id),
                        line,
                    )
                )
                deletes.append(_index_item(invoice))
            sub = submission_key(submission.day, self.kind)
            condition = (DocumentItem(sub.pk, sub.sk), DocumentItem.status == SubmissionStatus.CLAIMING.value)
            try:
                self._store.write(creates, [], conditions=[condition], deletes=deletes)
                return len(todo)
            except WriteConflictError as error:
                if len(creates) in error.failed:
                    return 0  # the selection was frozen by a concurrent run
                taken = {todo[position // 2].id for position in error.failed if position < len(creates)}
                if taken:
                    # Claimed before (another run or day): never again; it leaves the index.
                    self._drop_from_index([i for i in todo if i.id in taken])
                    todo = [i for i in todo if i.id not in taken]
                else:
                    # No condition failed: the transaction's own retries kept meeting concurrent ones.
                    raise UnavailableError(
                        "claims kept meeting concurrent transactions; the run will be retried"
                    ) from error
        raise UnavailableError("claims kept conflicting; the run will be retried")

    def _drop_from_index(self, invoices: Sequence[Invoice]) -> None:
        for start in range(0, len(invoices), 100):
            chunk = invoices[start : start + 100]
            if chunk:
                self._store.write([], [], deletes=[_index_item(invoice) for invoice in chunk])

    def unpaid(self, today: date, grace_days: int = 3, lookback_days: int = 62) -> list[ClaimMarker]:
        """Claims due at least ``grace_days`` ago (and at most ``lookback_days``) whose invoice is still
        open: for dunning."""
        last = today - timedelta(days=grace_days)
        first = today - timedelta(days=lookback_days)
        markers: list[ClaimMarker] = []
        for month in _months(first, last):
            query = DocumentItem.gsi1.query(
                claimed_month(month),
                range_key_condition=DocumentItem.gsi1sk.between(first.isoformat(), f"{last.isoformat()}~"),
            )
            markers.extend(
                marker
                for marker in (item.document(ClaimMarker) for item in query if item.doc is not None)
                if marker.status == ClaimStatus.CLAIMED
            )
        unpaid: list[ClaimMarker] = []
        for start in range(0, len(markers), READ_CHUNK):
            chunk = markers[start : start + READ_CHUNK]
            invoices = self._invoices([m.invoice_id for m in chunk])
            for marker in chunk:
                invoice = invoices.get(marker.invoice_id)
                if (
                    invoice is not None
                    and invoice[0].status == InvoiceStatus.ISSUED
                    and invoice[0].open_amount > 0
                ):
                    unpaid.append(marker)
        return unpaid


_FINAL = frozenset({"not_open", "before_window", "issued_before_mandate", "not_avtalegiro"})


def _verdict(  # noqa: PLR0911 - one answer per rule
    invoice: Invoice, mandate: Mandate | None, window: DueWindow, sellers: dict[str, LegalEntity]
) -> str:
    """``claim``, or why not (the reasons in ``_FINAL`` never change: the invoice leaves the index)."""
    if invoice.status != InvoiceStatus.ISSUED or invoice.open_amount <= 0:
        return "not_open"
    if invoice.payment_method != PaymentMethod.AVTALEGIRO or not invoice.kid:
        return "not_avtalegiro"
    if invoice.due_date < window.earliest:
        return "before_window"
    if invoice.due_date > window.latest:
        return "after_window"
    if invoice.legal_entity_id not in sellers:
        return "no_agreement"
    if mandate is None or mandate.status != MandateStatus.ACTIVE or mandate.active_since is None:
        return "no_mandate"
    # An invoice issued before the mandate was sent as an invoice with KID; it stays one.
    if mandate.active_since >= (invoice.issued_at or invoice.created_at):
        return "issued_before_mandate"
    return "claim"


def _line(
    invoice: Invoice, mandate: Mandate, config: AvtaleGiroConfig, seller: LegalEntity
) -> SubmissionLine:
    bank = config.agreements[invoice.legal_entity_id].bank_notification and mandate.notify
    return SubmissionLine(
        invoice_id=invoice.id,
        legal_entity_id=invoice.legal_entity_id,
        customer_id=invoice.customer_id,
        kid=invoice.kid or "",
        due_date=invoice.due_date,
        amount=invoice.open_amount,
        reference=reference_for(invoice, seller),
        payer_name=invoice.customer_id[-MAX_PAYER_NAME:].strip() or None,
        bank_notification=bank,
        specification=specification_for(invoice, seller) if bank else [],
    )


def _index_item(invoice: Invoice) -> DocumentItem:
    entry = claim_index_key(invoice.due_date, invoice.id)
    return DocumentItem(entry.pk, entry.sk, kind="avtalegiro_claim_index")
