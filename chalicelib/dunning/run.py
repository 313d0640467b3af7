"""The daily dunning run: each overdue invoice gets the next step of its plan on the day it falls due.

The planner reads the due index up to the business date in one query and queues one work item per (day,
shard) of the overdue index holding a step (:func:`chalicelib.dunning.planning.plan_dunning_run`).
A worker reads its partition ``DUE#<day>#<shard>`` a page at a time (keys only), reads those cases and
their invoices in one BatchGetItem and the customers of the open ones in another, and for each invoice:

- paid, credited or void (the open amount is read now, so a payment, credit note or write-off stops it):
  the case is closed and leaves the index;
- nothing due yet: the case moves to the day its next step falls due;
- a step due: it is taken (a card retry request, a reminder or collection notice with its fee document, a
  hand-off, a suspension that ends the subscription's access in the step's transaction, a stop through
  the stop service), and the case moves to the day of the step after it; at the plan's end it is closed.

Idempotent and crash-safe: every action has a deterministic key (``dunning:<invoice>:<step>``), is recorded
in the case by a write conditional on the case's version (a fee document's id derives from the key too), and
a letter is sent from its step's event (nothing is sent here). A rerun, a redelivered message or
a second worker finds the step recorded and only finishes what was left. After the partition, the shard's
hand-off file is (re)written from every case handed over in it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.catalog.models import LegalEntity
from chalicelib.catalog.zones import seller_run_date
from chalicelib.customers.models import Customer
from chalicelib.dunning.handoff import HandoffExporter, claim_record, read_fee_invoices
from chalicelib.dunning.index import CaseStatus, DunningCase, due_partition
from chalicelib.dunning.plan_store import PlanStore
from chalicelib.dunning.planning import plan_dunning_run
from chalicelib.dunning.plans import DunningPlan, StepKind
from chalicelib.dunning.schedule import RetryCharge, StepDue
from chalicelib.dunning.steps import StepWriter, Writes, case_write, step_events, step_fee, upcoming
from chalicelib.errors import ConflictError
from chalicelib.observability import logger
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, WriteConflictError
from chalicelib.subscriptions.models import StopWhen, Subscription

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from chalicelib.flows.stop_subscription import StopSubscription
    from chalicelib.subscriptions.access import AccessService

PAGE = 48
ATTEMPTS = 6


@dataclass
class DunningReport:
    """What one work item did (invoice ids per outcome)."""

    day: date
    shard: int
    reminded: list[str] = field(default_factory=list)
    noticed: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    handed_over: list[str] = field(default_factory=list)
    other_steps: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    moved: int = 0
    no_plan: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    handoff_file: str | None = None


@dataclass
class _Cache:
    """What one work item has read once: sellers and plans."""

    plans: PlanStore
    entities: dict[str, LegalEntity] = field(default_factory=dict)


class DunningRun:
    """Plans and works the daily dunning run."""

    def __init__(
        self,
        store: DocumentStore,
        steps: StepWriter,
        sqs: SQSClient,
        queue_url: str,
        exporter: HandoffExporter,
        access: AccessService | None = None,
        stops: StopSubscription | None = None,
    ) -> None:
        self._access = access
        self._stops = stops
        self._store = store
        self._steps = steps
        self._sqs = sqs
        self._queue_url = queue_url
        self._exporter = exporter

    # ---- planning --------------------------------------------------------------------------------------

    def plan(self, run_date: date) -> int:
        """Queue the run's work items for ``run_date`` (:func:`plan_dunning_run`); returns how many."""
        return plan_dunning_run(self._sqs, self._queue_url, run_date)

    # ---- working ---------------------------------------------------------------------------------------

    def work(self, day: date, shard: int, run_date: date, now: datetime) -> DunningReport:
        """Take every action due in one partition of the overdue index, then write the shard's hand-off
        file of the run date (if anything was handed over in it)."""
        cache = _Cache(PlanStore(self._store))
        report = DunningReport(day, shard)
        cursor: str | None = None
        while True:
            page = self._store.query(due_partition(day, shard), index="gsi2", limit=PAGE, cursor=cursor)
            invoice_ids = [item.gsi2sk for item in page.items if item.gsi2sk]
            self._work_page(cache, invoice_ids, day, run_date, now, report)
            cursor = page.next_cursor
            if cursor is None:
                break
        report.handoff_file = self._exporter.export(run_date, shard)
        return report

    def _work_page(
        self,
        cache: _Cache,
        invoice_ids: list[str],
        day: date,
        run_date: date,
        now: datetime,
        report: DunningReport,
    ) -> None:
        if not invoice_ids:
            return
        found = self._store.batch_get(
            [(f"DUNNING#{i}", "CASE") for i in invoice_ids]
            + [(keys.invoice(i).pk, "INVOICE") for i in invoice_ids]
        )
        open_customers = []
        for invoice_id in invoice_ids:
            invoice = found.get((keys.invoice(invoice_id).pk, "INVOICE"))
            if invoice is not None and invoice.status == InvoiceStatus.ISSUED and invoice.doc is not None:
                open_customers.append(invoice.document(Invoice).customer_id)
        customers = self._store.batch_get(
            (keys.customer(c).pk, keys.customer(c).sk) for c in dict.fromkeys(open_customers)
        )
        for invoice_id in invoice_ids:
            for attempt in range(ATTEMPTS):
                try:
                    self._work_case(cache, invoice_id, found, customers, day, run_date, now, report)
                    break
                except WriteConflictError:
                    # A payment, a second worker or a reminder on demand changed it: read it again.
                    time.sleep(random.uniform(0.001, 0.01) * (attempt + 1))
                    found = {
                        **found,
                        **self._store.batch_get(
                            [(f"DUNNING#{invoice_id}", "CASE"), (keys.invoice(invoice_id).pk, "INVOICE")]
                        ),
                    }
            else:
                raise WriteConflictError(f"the dunning of invoice {invoice_id} kept changing", [])

    def _work_case(
        self,
        cache: _Cache,
        invoice_id: str,
        found: Mapping[tuple[str, str], DocumentItem],
        customers: Mapping[tuple[str, str], DocumentItem],
        day: date,
        run_date: date,
        now: datetime,
        report: DunningReport,
    ) -> None:
        """One invoice of the partition: its case closed, moved on, or given its plan's next action."""
        case_item = found.get((f"DUNNING#{invoice_id}", "CASE"))
        if case_item is None or case_item.doc is None:
            return
        case, version = case_item.document(DunningCase), int(case_item.version)
        if case.status is not CaseStatus.ACTIVE or case.next_on != day:
            return  # the index is eventually consistent: the case has moved on already
        invoice_item = found.get((keys.invoice(invoice_id).pk, "INVOICE"))
        invoice = invoice_item.document(Invoice) if invoice_item is not None and invoice_item.doc else None
        if invoice is None or invoice.status != InvoiceStatus.ISSUED or invoice.open_amount <= 0:
            self._close(case, version, invoice.status.value if invoice is not None else "gone", report)
            return
        customer = self._customer(customers, invoice)
        entity = self._entity(cache, invoice.legal_entity_id)
        # The run's date on the seller's own calendar: a seller west of Oslo is still on the day before.
        run_date = seller_run_date(run_date, entity, now)
        stored = cache.plans.for_case(case, customer, entity.country)
        if stored is None:
            # No plan applies: look again tomorrow (the seller has to configure one; reported).
            self._save(case.model_copy(update={"next_on": run_date + timedelta(days=1)}), version)
            report.no_plan.append(invoice_id)
            return
        case = case.model_copy(update={"plan_id": stored.plan.id})
        self._next_action(case, version, invoice, entity, customer, stored.plan, run_date, now, report)

    def _next_action(
        self,
        case: DunningCase,
        version: int,
        invoice: Invoice,
        entity: LegalEntity,
        customer: Customer,
        plan: DunningPlan,
        run_date: date,
        now: datetime,
        report: DunningReport,
    ) -> None:
        """Take the action of the case's plan that is due on ``run_date``, or move the case to its next."""
        action = upcoming(plan, case, invoice)
        if action is None:
            self._close(case, version, "plan_finished", report)
            return
        if action.due_on > run_date:
            self._save(self._moved(case, invoice, plan, run_date, action.due_on), version)
            report.moved += 1
            return
        if isinstance(action, RetryCharge):
            writes, after = self._steps.retry(case, invoice, action.key, action.attempt, run_date, now)
            case_write(writes, self._moved(after, invoice, plan, run_date), version)
            self._steps.commit(writes)
            report.retried.append(invoice.id)
            return
        self._take_step(case, version, invoice, entity, customer, action, plan, run_date, now, report)

    def _take_step(
        self,
        case: DunningCase,
        version: int,
        invoice: Invoice,
        entity: LegalEntity,
        customer: Customer,
        action: StepDue,
        plan: DunningPlan,
        run_date: date,
        now: datetime,
        report: DunningReport,
    ) -> None:
        """Take a step of the plan (a letter, a hand-off, a suspension, a stop) with its case write."""
        step = action.step
        if step.kind in (StepKind.REMINDER, StepKind.COLLECTION_NOTICE):
            writes, after = self._steps.letter(
                case,
                invoice,
                entity,
                customer,
                action.key,
                step.kind,
                step_fee(step),
                step.deadline_days,
                run_date,
                now,
            )
            case_write(writes, self._moved(after, invoice, plan, run_date), version)
            self._steps.commit(writes)
            (report.reminded if step.kind is StepKind.REMINDER else report.noticed).append(invoice.id)
            return
        after = case.model_copy(update={"done": {**case.done, action.key: run_date}})
        writes = Writes(events=step_events(case, invoice, action.key, None, now, step.kind))
        if step.kind is StepKind.HAND_OFF:
            self._hand_off(after, version, invoice, entity, customer, run_date, writes)
            report.handed_over.append(invoice.id)
            return
        if step.kind is StepKind.SUSPEND:
            # Access ends in the step's own transaction; a payment grants it again (the ledger's hook).
            self._suspend(invoice, writes)
            report.suspended.append(invoice.id)
        elif step.kind is StepKind.STOP and self._stop(invoice):
            # Its own transactions, idempotent (a stopped subscription stays stopped), before the step is
            # recorded: a crash in between stops again, which changes nothing.
            report.stopped.append(invoice.id)
        case_write(writes, self._moved(after, invoice, plan, run_date), version)
        self._steps.commit(writes)
        report.other_steps.append(invoice.id)

    def _hand_off(
        self,
        case: DunningCase,
        version: int,
        invoice: Invoice,
        entity: LegalEntity,
        customer: Customer,
        run_date: date,
        writes: Writes,
    ) -> None:
        """The hand-off step: the case leaves dunning with the claim record debt collection receives."""
        claim = claim_record(case, invoice, entity, customer, read_fee_invoices(self._store, case), run_date)
        after = case.model_copy(
            update={
                "status": CaseStatus.HANDED_OVER,
                "handed_over_on": run_date,
                "handoff": claim,
                "next_on": None,
            }
        )
        case_write(writes, after, version)
        self._steps.commit(writes)

    def _subscription(self, invoice: Invoice) -> Subscription | None:
        if invoice.subscription_id is None:
            return None
        return self._store.get_document(keys.subscription(invoice.subscription_id).pk, "SUB", Subscription)

    def _suspend(self, invoice: Invoice, writes: Writes) -> None:
        """The step's writes that end the subscription's access, with their ``access.revoked``."""
        subscription = self._subscription(invoice)
        if self._access is None or subscription is None:
            return
        revoked, events = self._access.revoke(subscription, subscription.product_ids, "suspension")
        writes.replaces += revoked
        writes.events += events

    def _stop(self, invoice: Invoice) -> bool:
        subscription = self._subscription(invoice)
        if self._stops is None or subscription is None:
            return False
        try:
            self._stops.stop(subscription.id, StopWhen.NOW, "dunning: unpaid invoice")
        except ConflictError as error:
            # A binding that refuses an early stop, or a subscription already ended: recorded, not retried.
            logger.warning(
                "dunning could not stop the subscription",
                extra={"invoice_id": invoice.id, "subscription_id": subscription.id, "reason": str(error)},
            )
            return False
        return True

    @staticmethod
    def _moved(
        case: DunningCase, invoice: Invoice, plan: DunningPlan, run_date: date, due_on: date | None = None
    ) -> DunningCase:
        """The case moved to the day its next action falls due (tomorrow at the earliest), or closed when
        the plan is finished."""
        if due_on is None:
            action = upcoming(plan, case, invoice)
            if action is None:
                return case.model_copy(
                    update={"status": CaseStatus.CLOSED, "closed_reason": "plan_finished", "next_on": None}
                )
            due_on = action.due_on
        return case.model_copy(update={"next_on": max(due_on, run_date + timedelta(days=1))})

    def _close(self, case: DunningCase, version: int, reason: str, report: DunningReport) -> None:
        """The case ends without a further step (the invoice is settled or gone, or the plan finished)."""
        self._save(
            case.model_copy(update={"status": CaseStatus.CLOSED, "closed_reason": reason, "next_on": None}),
            version,
        )
        report.closed.append(case.invoice_id)

    def _customer(self, customers: Mapping[tuple[str, str], DocumentItem], invoice: Invoice) -> Customer:
        """The invoice's customer, from the work item's batch read (else read on its own)."""
        customer_key = (keys.customer(invoice.customer_id).pk, keys.customer(invoice.customer_id).sk)
        customer_item = customers.get(customer_key) or self._store.get(*customer_key)
        if customer_item is None or customer_item.doc is None:
            raise LookupError(f"the customer of invoice {invoice.id} is gone")
        return customer_item.document(Customer)

    def _save(self, case: DunningCase, version: int) -> None:
        writes = Writes()
        case_write(writes, case, version)
        self._steps.commit(writes)

    def _entity(self, cache: _Cache, legal_entity_id: str) -> LegalEntity:
        if legal_entity_id not in cache.entities:
            found = self._store.get_document(keys.legal_entity(legal_entity_id).pk, "ENTITY", LegalEntity)
            if found is None:
                raise LookupError(f"legal entity {legal_entity_id} is gone")
            cache.entities[legal_entity_id] = found
        return cache.entities[legal_entity_id]
