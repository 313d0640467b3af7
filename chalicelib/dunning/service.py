"""What happens to one invoice's dunning outside the daily run: a reminder on demand, a failed automatic
charge, a dispute; and configuring plans (stored and chosen in :mod:`chalicelib.dunning.plan_store`).

Plans are checked against the legal limits of their country when created. An entity has at most one
default plan (a lookup item enforces it).

Nothing here sends: a reminder's step records ``dunning.step_taken`` and a failed charge ``payment.failed``,
and the notifications send the letter and the failed-charge message from those events
(:mod:`chalicelib.dunning.letters`). A case's letters are read with their delivery as the notifications
recorded it (``deliveries``: ``queued`` until the letter is sent).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.models import LegalEntity
from chalicelib.clock import Clock
from chalicelib.customers.models import Customer
from chalicelib.dunning.index import CaseStatus, DunningCase, new_case
from chalicelib.dunning.limits import DEFAULT_LIMITS, LimitsTable, UnknownDunningLimitError
from chalicelib.dunning.plan_store import (
    PlanStore,
    StoredPlan,
    as_stored_plan,
    covers_everything,
    default_plan_lookup,
    plan_keys,
    standard_stored_plan,
)
from chalicelib.dunning.plans import DunningPlan, StepKind, standard_plan_of_id, validate_plan
from chalicelib.dunning.steps import StepWriter, Writes, case_write, upcoming
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    UnavailableError,
    ValidationFailedError,
)
from chalicelib.ledger.service import LedgerService
from chalicelib.money import Money
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    WriteConflictError,
    document_item,
    lookup_item,
)
from chalicelib.values import PaymentMethod

if TYPE_CHECKING:
    from chalicelib.dunning.run import DunningRun

ATTEMPTS = 8
# What became of each message key (the notification sender's record): ``sent``, ``queued``, ...
Deliveries = Callable[[Sequence[str]], Mapping[str, str]]
QUEUED = "queued"  # no record yet: the letter's notice is on its way


@dataclass(frozen=True)
class ReminderResult:
    """An on-demand reminder: the case after it, and whether this call recorded it (False: recorded
    before)."""

    case: DunningCase
    created: bool


class DunningService:
    """Plans, reminders on demand, failed charges, disputes and reading a case."""

    def __init__(
        self,
        store: DocumentStore,
        ledger: LedgerService,
        deliveries: Deliveries,
        clock: Clock,
        limits: LimitsTable = DEFAULT_LIMITS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._limits = limits
        self._deliveries = deliveries
        self.steps = StepWriter(store, ledger)

    # ---- plans -----------------------------------------------------------------------------------------

    def create_plan(self, legal_entity_id: str, plan: DunningPlan, default: bool) -> StoredPlan:
        """Store a plan after checking it against the law of its country today (422 otherwise)."""
        entity = self._entity(legal_entity_id, "legal_entity_id")
        if plan.country != entity.country:
            raise ValidationFailedError(
                "the plan's country is not the seller's",
                [FieldError("country", f"{entity.name} invoices in {entity.country}", "mismatch")],
            )
        now = self._clock.now()
        validate_plan(plan, self._limits, entity.business_date(now))
        stored = StoredPlan(plan=plan, legal_entity_id=legal_entity_id, default=default, created_at=now)
        item = document_item("dunning_plan", plan_keys(plan.id, legal_entity_id, now), stored)
        creates = [item]
        if default:
            creates.append(lookup_item(default_plan_lookup(legal_entity_id), plan_keys(plan.id)))
        try:
            self._store.write(creates, [])
        except WriteConflictError:
            raise ConflictError(f"{entity.name} already has a default dunning plan") from None
        return stored

    def plans(self, legal_entity_id: str | None) -> list[StoredPlan]:
        """Every stored plan, or one entity's plans in effect: its own, and last its country's standard
        plan for claims due today unless one of its own plans matches every invoice."""
        store = PlanStore(self._store, self._limits)
        if not legal_entity_id:
            return store.all()
        own = store.for_entity(legal_entity_id)
        entity = self._store.get_document(keys.legal_entity(legal_entity_id).pk, "ENTITY", LegalEntity)
        if entity is None or any(covers_everything(stored) for stored in own):
            return own
        today = entity.business_date(self._clock.now())
        standard = standard_stored_plan(legal_entity_id, entity.country, today, self._limits)
        return [*own, standard] if standard is not None else own

    def plan(self, plan_id: str) -> StoredPlan:
        """One plan: a stored one, or a standard plan by its id (of no entity: it is every seller's)."""
        standard = standard_plan_of_id(plan_id, self._limits)
        if standard is not None:
            return as_stored_plan(standard, None)
        found = self._store.get_document(plan_keys(plan_id).pk, "PLAN", StoredPlan)
        if found is None:
            raise NotFoundError(f"no dunning plan {plan_id}")
        return found

    # ---- one invoice -----------------------------------------------------------------------------------

    def case(self, invoice_id: str) -> DunningCase:
        """An invoice's dunning case, its letters with their delivery (404 when dunning never saw it)."""
        found = self._store.get_document(f"DUNNING#{invoice_id}", "CASE", DunningCase)
        if found is None:
            raise NotFoundError(f"invoice {invoice_id} has no dunning case")
        return self.with_deliveries(found)

    def with_deliveries(self, case: DunningCase) -> DunningCase:
        """``case`` with each letter's delivery as the notifications recorded it (one read for all):
        ``queued`` until its notice is handled, then ``sent``, ``opted_out``, ``no_address`` or ``skipped``
        (a letter whose invoice was paid before it went out)."""
        if not case.letters:
            return case
        found = self._deliveries([letter.key for letter in case.letters])
        letters = []
        for letter in case.letters:
            recorded = found.get(letter.key, QUEUED)
            # A letter sent before its delivery was read from the notifications keeps what it stored.
            kept = letter.delivery is not None and recorded == QUEUED
            letters.append(letter if kept else letter.model_copy(update={"delivery": recorded}))
        return case.model_copy(update={"letters": letters})

    def remind(self, invoice_id: str, with_fee: bool = False) -> ReminderResult:
        """Record a reminder now, which the notifications send (at most one a day per invoice; the same
        day again returns that one). With ``with_fee`` it charges the plan's reminder fee, if the law
        allows one today."""
        for attempt in range(ATTEMPTS):
            invoice, case, version, customer, entity = self._read(invoice_id)
            day = entity.business_date(self._clock.now())
            key = f"dunning:{invoice_id}:manual-{day.isoformat()}"
            if key in case.done:
                return ReminderResult(self.with_deliveries(case), False)
            self._payable(invoice, case)
            if day <= invoice.due_date:
                raise ConflictError(f"invoice {invoice_id} is not overdue until after {invoice.due_date}")
            fee = self._manual_fee(case, invoice, customer, entity, day) if with_fee else None
            try:
                writes, after = self.steps.letter(
                    case, invoice, entity, customer, key, StepKind.REMINDER, fee, None, day, self._clock.now()
                )
                case_write(writes, after, version)
                self.steps.commit(writes)
            except WriteConflictError:
                _backoff(attempt)
                continue
            return ReminderResult(self.with_deliveries(after), True)
        raise UnavailableError("the invoice's dunning kept changing; try again")

    def record_failed_charge(
        self, invoice_id: str, method: PaymentMethod, reason: str, at: datetime
    ) -> DunningCase:
        """A card or Vipps charge of the invoice failed: card charges are retried on the plan's retry days
        (counted from the failure) before its steps; Vipps retries by itself, so the plan's steps follow.
        The first failure starts the schedule; later ones (a retry declined) change nothing. The customer
        is told by the notifications, from the failure's ``payment.failed`` event, once per invoice
        (:mod:`chalicelib.dunning.letters`)."""
        for attempt in range(ATTEMPTS):
            invoice, case, version, customer, entity = self._read(invoice_id)
            if case.failed_charge_on is None and case.status is CaseStatus.ACTIVE:
                failed_on = entity.business_date(at)
                case = case.model_copy(
                    update={
                        "failed_charge_on": failed_on,
                        "failed_charge_reason": reason,
                        "payment_method": method,
                    }
                )
                stored = PlanStore(self._store, self._limits).for_case(case, customer, entity.country)
                today = entity.business_date(self._clock.now())
                if stored is not None:
                    case = case.model_copy(update={"plan_id": stored.plan.id})
                    action = upcoming(stored.plan, case, invoice)
                    if action is not None:
                        case = case.model_copy(update={"next_on": max(action.due_on, _after(today))})
                writes = Writes()
                case_write(writes, case, version)
                try:
                    self.steps.commit(writes)
                except WriteConflictError:
                    _backoff(attempt)
                    continue
            return case
        raise UnavailableError("the invoice's dunning kept changing; try again")

    def dispute(self, invoice_id: str, disputed: bool, reason: str | None) -> DunningCase:
        """Stop dunning while the customer disputes the claim; lifting the dispute puts the invoice back in
        the index from tomorrow (the plan continues where it stopped, its steps' spacing kept)."""
        for attempt in range(ATTEMPTS):
            _, case, version, _, entity = self._read(invoice_id)
            if case.status is CaseStatus.HANDED_OVER or case.status is CaseStatus.CLOSED:
                raise ConflictError(f"the dunning of invoice {invoice_id} is {case.status.value}")
            if disputed == (case.status is CaseStatus.DISPUTED):
                return case
            today = entity.business_date(self._clock.now())
            if disputed:
                case = case.model_copy(update={"status": CaseStatus.DISPUTED, "dispute_reason": reason})
            else:
                case = case.model_copy(
                    update={"status": CaseStatus.ACTIVE, "dispute_reason": None, "next_on": _after(today)}
                )
            writes = Writes()
            case_write(writes, case, version)
            try:
                self.steps.commit(writes)
            except WriteConflictError:
                _backoff(attempt)
                continue
            return case
        raise UnavailableError("the invoice's dunning kept changing; try again")

    # ---- helpers ---------------------------------------------------------------------------------------

    def _read(self, invoice_id: str) -> tuple[Invoice, DunningCase, int, Customer, LegalEntity]:
        """The invoice, its case (a new one, version 0, when billing did not create it), the customer and
        the seller: one BatchGetItem for invoice and case, one for customer and seller."""
        found = self._store.batch_get(
            [(keys.invoice(invoice_id).pk, "INVOICE"), (f"DUNNING#{invoice_id}", "CASE")]
        )
        invoice_item = found.get((keys.invoice(invoice_id).pk, "INVOICE"))
        if invoice_item is None or invoice_item.doc is None:
            raise NotFoundError(f"no invoice {invoice_id}")
        invoice = invoice_item.document(Invoice)
        if invoice.kind != InvoiceKind.INVOICE or invoice.status == InvoiceStatus.DRAFT:
            raise ConflictError("only an issued invoice is dunned")
        case_found: DocumentItem | None = found.get((f"DUNNING#{invoice_id}", "CASE"))
        if case_found is not None and case_found.doc is not None:
            case, version = case_found.document(DunningCase), int(case_found.version)
        else:
            case, version = new_case(invoice), 0
        others = self._store.batch_get(
            [
                (keys.customer(invoice.customer_id).pk, keys.customer(invoice.customer_id).sk),
                (keys.legal_entity(invoice.legal_entity_id).pk, "ENTITY"),
            ]
        )
        customer_item = others.get(
            (keys.customer(invoice.customer_id).pk, keys.customer(invoice.customer_id).sk)
        )
        entity_item = others.get((keys.legal_entity(invoice.legal_entity_id).pk, "ENTITY"))
        if customer_item is None or entity_item is None:
            raise NotFoundError(f"the customer or seller of invoice {invoice_id} is gone")
        return invoice, case, version, customer_item.document(Customer), entity_item.document(LegalEntity)

    def _entity(self, legal_entity_id: str, field: str) -> LegalEntity:
        entity = self._store.get_document(keys.legal_entity(legal_entity_id).pk, "ENTITY", LegalEntity)
        if entity is None:
            raise ValidationFailedError(
                f"no legal entity {legal_entity_id}", [FieldError(field, "unknown legal entity", "unknown")]
            )
        return entity

    @staticmethod
    def _payable(invoice: Invoice, case: DunningCase) -> None:
        if invoice.status != InvoiceStatus.ISSUED or invoice.open_amount <= 0:
            raise ConflictError(f"invoice {invoice.id} is {invoice.status.value}: nothing to remind of")
        if case.status is not CaseStatus.ACTIVE:
            raise ConflictError(f"the dunning of invoice {invoice.id} is {case.status.value}")

    def _manual_fee(
        self, case: DunningCase, invoice: Invoice, customer: Customer, entity: LegalEntity, day: date
    ) -> Money:
        """The plan's reminder fee, if the law allows one more fee on this invoice today."""
        stored = PlanStore(self._store, self._limits).for_case(case, customer, entity.country)
        fee = next(
            (s.fee for s in stored.plan.steps if s.kind is StepKind.REMINDER and s.fee is not None)
            if stored is not None
            else iter(()),
            None,
        )
        problem: str | None = None
        try:
            limits = self._limits.resolve(entity.country, day)
        except UnknownDunningLimitError as error:
            raise ValidationFailedError(
                str(error), [FieldError("with_fee", str(error), "unsupported")]
            ) from None
        charged = sum(1 for letter in case.letters if letter.fee)
        if fee is None:
            problem = "the invoice's dunning plan charges no reminder fee"
        elif (day - invoice.due_date).days < limits.min_fee_days_after_due:
            earliest = limits.min_fee_days_after_due
            problem = f"a fee may be charged {earliest} days after the due date at the earliest"
        elif limits.max_fees is not None and charged >= limits.max_fees:
            problem = f"at most {limits.max_fees} fees may be charged per claim in {entity.country}"
        if problem is not None or fee is None:
            raise ValidationFailedError(
                problem or "no fee", [FieldError("with_fee", problem or "no fee", "not_allowed")]
            )
        return fee


def _after(day: date) -> date:
    from datetime import timedelta

    return day + timedelta(days=1)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0.001, 0.01) * min(attempt + 1, 8))


@dataclass(frozen=True)
class Dunning:
    """Dunning's services, as the container holds them (``Services.dunning``)."""

    service: DunningService
    run: DunningRun


__all__ = ["Dunning", "DunningService", "ReminderResult"]
