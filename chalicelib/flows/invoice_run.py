"""The invoice run: each day, issue every draft whose invoice date has come, and draft the next ones.

The planner reads no subscriptions: it sends one work item per (renewal date, shard) through SQS. A worker
reads its partition of the renewal index a page at a time, reads those subscriptions and drafts in one
BatchGetItem, and issues them in transactions of up to :data:`BATCH` renewals that also move the invoice
counter by the batch's size, so numbers stay gapless without one counter write per invoice.

Idempotent: an invoice's id is fixed by its subscription and period; a renewal only applies while the
subscription and draft are at the versions read, so a rerun, a redelivered message or a second worker
finds nothing left to do. A batch that loses a race is retried one renewal at a time.

A stopped subscription stays in the index for its end date; that day's worker ends it (``ended``, with
``subscription.ended``) and, on a plan with usage prices, issues its final invoice (the usage not invoiced
yet, see :mod:`chalicelib.billing.usage`) like a renewal without a next draft; with no usage left to
invoice it only takes it out of the index. Every event (``invoice.issued``, ``subscription.ended``) is
written in the transaction of its change, so the notices come from the event dispatcher and a worker that
dies after a commit loses none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.billing.drafting import Seller
from chalicelib.billing.drafts import document_item_for
from chalicelib.billing.issuing import ToIssue, invoice_series, issuing_writes
from chalicelib.billing.models import Invoice, InvoiceStatus, LineKind
from chalicelib.billing.renewal import Renewal, due_for_renewal, renew
from chalicelib.billing.usage import (
    UsageCounter,
    billable,
    closed,
    final_invoice_due,
    final_usage_invoice,
    unbilled,
    usage_counter_item,
    usage_lines,
    with_usage,
)
from chalicelib.catalog.models import LegalEntity, Plan, Product
from chalicelib.catalog.plans import load_plan_chain, load_products
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE, VatTable
from chalicelib.catalog.zones import seller_run_date
from chalicelib.customers.fees import FeeService
from chalicelib.customers.models import Fee
from chalicelib.dunning.index import issued_partition
from chalicelib.events import Event
from chalicelib.flows.invoice_run_batches import (
    TRANSACTION_ITEMS,
    Candidate,
    CatalogCache,
    Close,
    Prepared,
    ShardReport,
    batches,
    voided,
)
from chalicelib.jobs.work_items import queue_work_items
from chalicelib.ledger.service import LedgerService
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    WriteConflictError,
    decode_cursor,
    encode_cursor,
)
from chalicelib.store.due import INVOICE_RUN, due_partitions
from chalicelib.subscriptions.events import subscription_ended
from chalicelib.subscriptions.models import Subscription
from chalicelib.subscriptions.writes import end_due, ended, renewal_partition, subscription_item

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

PAGE = 48

__all__ = ["PAGE", "InvoiceRun", "ShardReport"]


class InvoiceRun:
    """Plans and works the daily invoice run."""

    def __init__(
        self,
        store: DocumentStore,
        fees: FeeService,
        sqs: SQSClient,
        queue_url: str,
        ledger: LedgerService | None = None,
        vat_table: VatTable = DEFAULT_VAT_TABLE,
    ) -> None:
        self._store = store
        self._fees = fees
        self._sqs = sqs
        self._queue_url = queue_url
        self._ledger = ledger
        self._vat = vat_table

    # ---- planning --------------------------------------------------------------------------------------

    def plan(self, run_date: date) -> int:
        """Queue one work item per (day, shard) of the renewal index with something due on or before the
        run date (the due index says which, in one query); returns how many were queued.

        Nothing is indexed for a day on or before the day it is written (see ``renewal_index_date``), so
        each day's partitions are complete when its run starts. A day whose run failed is caught up here:
        what it did not issue is still listed under its own day."""
        return queue_work_items(self._sqs, self._queue_url, due_partitions(INVOICE_RUN, run_date), run_date)

    # ---- working ---------------------------------------------------------------------------------------

    def work(self, day: date, shard: int, run_date: date, now: datetime) -> ShardReport:
        """Issue everything due in one partition of the renewal index."""
        # Catalog reads are cached for one work item only: a warm Lambda must see the next price change.
        cache = CatalogCache(issued_in=issued_partition(run_date, shard))
        report = ShardReport(day, shard)
        cursor: str | None = None
        while True:
            start = decode_cursor(cursor, ("gsi2pk", "gsi2sk"))
            results = DocumentItem.gsi2.query(
                renewal_partition(day.isoformat(), shard), limit=PAGE, last_evaluated_key=start
            )
            subscription_ids = [item.gsi2sk for item in results if item.gsi2sk]
            self._work_page(cache, subscription_ids, run_date, now, report)
            cursor = encode_cursor(results.last_evaluated_key)
            if cursor is None:
                return report

    def _work_page(
        self,
        cache: CatalogCache,
        subscription_ids: list[str],
        run_date: date,
        now: datetime,
        report: ShardReport,
    ) -> None:
        if not subscription_ids:
            return
        candidates = self._read(subscription_ids)
        renewals: list[Prepared] = []
        for candidate in candidates:
            prepared = self._prepare(cache, candidate, run_date, now)
            if prepared is None:
                report.skipped += 1
            elif isinstance(prepared, Close):
                try:
                    self._close(prepared)
                    report.closed += 1
                except WriteConflictError:
                    # A late usage report (or a second worker) came first: decide again from fresh reads.
                    report.retried_singly += 1
                    report.issued.extend(self._retry_one(cache, candidate.subscription.id, run_date, now))
            else:
                renewals.append((prepared[0], candidate, prepared[1]))
        for batch in batches(renewals):
            try:
                report.issued.extend(self._commit(cache, batch, now))
            except WriteConflictError:
                # Someone changed one of these meanwhile (a second worker, a customer's change): take them
                # one at a time from fresh reads.
                for _, candidate, _ in batch:
                    report.retried_singly += 1
                    issued = self._retry_one(cache, candidate.subscription.id, run_date, now)
                    report.issued.extend(issued)

    def _read(self, subscription_ids: Sequence[str]) -> list[Candidate]:
        subscription_keys = [(keys.subscription(ident).pk, "SUB") for ident in subscription_ids]
        items = self._store.batch_get(subscription_keys)
        subscriptions = [
            (items[key].document(Subscription), int(items[key].version))
            for key in subscription_keys
            if key in items
        ]
        draft_keys = [
            (keys.invoice(s.next_invoice_id).pk, "INVOICE") for s, _ in subscriptions if s.next_invoice_id
        ]
        drafts = self._store.batch_get(draft_keys)
        candidates = []
        for subscription, version in subscriptions:
            draft = (
                drafts.get((keys.invoice(subscription.next_invoice_id).pk, "INVOICE"))
                if subscription.next_invoice_id
                else None
            )
            if draft is not None and draft.status == InvoiceStatus.DRAFT and draft.doc is not None:
                candidates.append(
                    Candidate(subscription, version, int(draft.version), draft.document(Invoice))
                )
            else:
                candidates.append(Candidate(subscription, version, None))
        return candidates

    def _context(
        self, cache: CatalogCache, subscription: Subscription
    ) -> tuple[Seller, dict[str, Plan], dict[str, Product]]:
        entity_id = subscription.legal_entity_id
        if entity_id not in cache.entities:
            found = self._store.get_document(keys.legal_entity(entity_id).pk, "ENTITY", LegalEntity)
            if found is None:
                raise LookupError(f"legal entity {entity_id} is gone")
            cache.entities[entity_id] = found
        missing = {p.plan_id for p in subscription.phases} - set(cache.plans)
        if missing:
            cache.plans.update(load_plan_chain(self._store, missing))
        cache.products.update(load_products(self._store, cache.plans.values(), known=cache.products))
        return Seller(cache.entities[entity_id], self._vat), cache.plans, cache.products

    def _prepare(
        self, cache: CatalogCache, candidate: Candidate, run_date: date, now: datetime
    ) -> tuple[Renewal, list[tuple[Fee, int]]] | Close | None:
        subscription = candidate.subscription
        seller, plans, products = self._context(cache, subscription)
        # The run's date on the seller's own calendar: a seller west of Oslo is still on the day before.
        run_date = seller_run_date(run_date, seller.entity, now)
        if final_invoice_due(subscription, run_date):
            return self._final(candidate, seller, plans, products, run_date, now)
        if end_due(subscription, run_date):
            # A stop without usage to invoice in arrears: its end date has come.
            return Close(
                ended(closed(subscription)), candidate.version, (subscription_ended(subscription, now),)
            )
        due = due_for_renewal(seller, subscription, plans, run_date)
        if due is None:
            return None
        fees = self._fees_on_draft(candidate)
        renewal = renew(seller, subscription, due, plans, products, [fee for fee, _ in fees], run_date, now)
        if any(plans[p.plan_id].usage for p in subscription.phases):
            renewal = self._with_usage(renewal, seller, plans, products, run_date)
        return renewal, fees

    def _with_usage(
        self,
        renewal: Renewal,
        seller: Seller,
        plans: dict[str, Plan],
        products: dict[str, Product],
        run_date: date,
    ) -> Renewal:
        """The usage of periods ended by the run date, on the renewal (its counters marked in the same
        transaction). Only subscriptions on plans with usage prices pay this extra query (a page per hundred
        counters)."""
        subscription = renewal.subscription
        counted = self._usage_counters(subscription.id)
        due = billable([counter for counter, _ in counted], run_date)
        if not due:
            return renewal
        due_ids = {(c.period.start, c.metric) for c in due}
        lines = usage_lines(
            due, plans, products, seller.vat_table, seller.entity.country, subscription.language
        )
        return replace(
            renewal,
            invoice=with_usage(renewal.invoice, lines),
            usage=tuple((c, v) for c, v in counted if (c.period.start, c.metric) in due_ids),
        )

    def _final(
        self,
        candidate: Candidate,
        seller: Seller,
        plans: dict[str, Plan],
        products: dict[str, Product],
        run_date: date,
        now: datetime,
    ) -> tuple[Renewal, list[tuple[Fee, int]]] | Close:
        """An ended subscription's final invoice: the usage no renewal will carry, its counters marked and
        the subscription out of the index in the same transaction; with nothing to invoice, only the
        latter."""
        subscription = candidate.subscription
        counted = self._usage_counters(subscription.id)
        due = unbilled([counter for counter, _ in counted])
        invoice = final_usage_invoice(seller, subscription, due, plans, products, run_date, now)
        done = ended(closed(subscription)) if end_due(subscription, run_date) else closed(subscription)
        if invoice is None:
            events = (subscription_ended(subscription, now),) if done.status != subscription.status else ()
            return Close(done, candidate.version, events)
        due_ids = {(c.period.start, c.metric) for c in due}
        usage = tuple((c, v) for c, v in counted if (c.period.start, c.metric) in due_ids)
        return Renewal(invoice=invoice, draft=None, subscription=done, usage=usage), []

    def _close(self, close: Close) -> None:
        """Take an ended subscription with no usage left to invoice out of the renewal index."""
        self._store.write(
            [], [(subscription_item(close.subscription, close.version), close.version)], events=close.events
        )

    def _usage_counters(self, subscription_id: str) -> list[tuple[UsageCounter, int]]:
        """Every usage counter of the subscription, with its version (a page is 100 counters)."""
        counted: list[tuple[UsageCounter, int]] = []
        cursor: str | None = None
        while True:
            page = self._store.query(keys.subscription(subscription_id).pk, "USAGE#", cursor=cursor)
            counted.extend((item.document(UsageCounter), int(item.version)) for item in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return counted

    def _fees_on_draft(self, candidate: Candidate) -> list[tuple[Fee, int]]:
        """Fees the draft promised, if it promised any (only then is the customer's partition read)."""
        draft = candidate.draft
        if draft is None:
            return []
        promised = {line.reference for line in draft.lines if line.kind == LineKind.FEE}
        if not promised:
            return []
        return [
            (fee, v)
            for fee, v in self._fees.pending_with_versions(candidate.subscription.customer_id)
            if fee.id in promised
        ]

    def _commit(
        self,
        cache: CatalogCache,
        batch: list[Prepared],
        now: datetime,
    ) -> list[str]:
        if not batch:
            return []
        entity_id = batch[0][0].invoice.legal_entity_id
        if any(renewal.invoice.legal_entity_id != entity_id for renewal, _, _ in batch):
            issued: list[str] = []
            for one in batch:
                issued.extend(self._commit(cache, [one], now))
            return issued
        series = invoice_series(cache.entities[entity_id])
        issued_writes = issuing_writes(
            series,
            [
                ToIssue(
                    renewal.invoice,
                    candidate.subscription.customer_number,
                    draft_version=candidate.draft_version
                    if candidate.subscription.next_invoice_id == renewal.invoice.id
                    else None,
                )
                for renewal, candidate, _ in batch
            ],
            self._ledger,
            issued_in=cache.issued_in,
        )
        creates: list[DocumentItem] = list(issued_writes.creates)
        replaces: list[tuple[DocumentItem, int]] = list(issued_writes.replaces)
        updates: list[tuple[Any, list[Any], Any]] = list(issued_writes.updates)
        events: list[Event] = list(issued_writes.events)
        issued = [invoice.id for invoice in issued_writes.documents]
        for invoice, (renewal, candidate, fees) in zip(issued_writes.documents, batch, strict=True):
            stale = candidate.subscription.next_invoice_id
            if stale and stale != invoice.id and candidate.draft_version is not None:
                replaces.append((voided(stale, self._store), candidate.draft_version))
            if renewal.draft is not None:
                creates.append(document_item_for(renewal.draft))
            replaces.append((subscription_item(renewal.subscription, candidate.version), candidate.version))
            if renewal.subscription.status != candidate.subscription.status:
                # the final invoice of a stop that takes effect today: the subscription ends with it
                events.append(subscription_ended(candidate.subscription, now))
            replaces.extend(self._fees.invoiced_writes(fees, invoice.id))
            for used, used_version in renewal.usage:
                billed = used.model_copy(update={"invoice_id": invoice.id})
                replaces.append((usage_counter_item(billed, used_version), used_version))
        if len(creates) + len(replaces) + len(updates) + len(events) > TRANSACTION_ITEMS and len(batch) > 1:
            # Fees and index entries vary per renewal: a batch that outgrew one transaction is halved
            # (nothing was written; each half reads the counter again).
            half = len(batch) // 2
            return self._commit(cache, batch[:half], now) + self._commit(cache, batch[half:], now)
        # Each invoice's invoice.issued (and a final invoice's subscription.ended) commit with it: a worker
        # that dies after the commit loses no notice, and a redelivered work item finds nothing to redo.
        self._store.write(creates, replaces, updates=updates, events=events)
        return issued

    def _retry_one(
        self, cache: CatalogCache, subscription_id: str, run_date: date, now: datetime
    ) -> list[str]:
        for _ in range(5):
            candidates = self._read([subscription_id])
            if not candidates:
                return []
            prepared = self._prepare(cache, candidates[0], run_date, now)
            if prepared is None:
                return []
            try:
                if isinstance(prepared, Close):
                    self._close(prepared)
                    return []
                return self._commit(cache, [(prepared[0], candidates[0], prepared[1])], now)
            except WriteConflictError:
                continue
        raise WriteConflictError(f"subscription {subscription_id} kept changing during the run", [])
