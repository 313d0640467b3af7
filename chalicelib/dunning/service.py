"""Dunning plans as configuration, and what happens to one invoice outside the daily run: a reminder on
demand, a failed automatic charge, a dispute.

Plans are stored per legal entity (``DUNNINGPLAN#<id>`` / ``PLAN``, listed on gsi1 ``DUNNINGPLANS`` by
entity and creation) and checked against the legal limits of their country when created. A plan applies to
a customer type (person, organization) and/or payment methods; the most specific plan that matches an
invoice is used (payment method over customer type, then the entity's default, then the newest), and the
case keeps the plan it started with. An entity has at most one default plan (a lookup item enforces it).
Where none of its plans matches, its country's standard plan applies (never stored; see
:func:`effective_dunning_plan`, the one rule every reader of plans uses).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.models import Document, LegalEntity, PaymentMethod
from chalicelib.clock import Clock
from chalicelib.customers.models import Customer
from chalicelib.dunning.handoff import HandoffExporter
from chalicelib.dunning.index import CaseStatus, DunningCase, new_case
from chalicelib.dunning.limits import DEFAULT_LIMITS, LimitsTable, UnknownDunningLimitError
from chalicelib.dunning.plans import (
    DunningPlan,
    StepKind,
    parse_standard_plan_id,
    standard_plan,
    standard_plan_of_id,
    validate_plan,
)
from chalicelib.dunning.schedule import RetryCharge
from chalicelib.dunning.steps import StepWriter, Writes, case_write, upcoming
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    UnavailableError,
    ValidationFailedError,
)
from chalicelib.ids import new_id
from chalicelib.ledger.service import LedgerService
from chalicelib.money import Money
from chalicelib.notifications.render import MessageKind
from chalicelib.notifications.sender import Channel, NotificationSender, Recipient
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    Keys,
    WriteConflictError,
    document_item,
    lookup_item,
)

if TYPE_CHECKING:
    from chalicelib.container import Services
    from chalicelib.dunning.run import DunningRun

ATTEMPTS = 8
PLANS_LIST = "DUNNINGPLANS"


class StoredPlan(Document):
    """A dunning plan of one legal entity, as configured; or (``standard``) its country's standard plan,
    never stored, which applies where none of the entity's own plans does."""

    plan: DunningPlan
    legal_entity_id: str | None
    default: bool = False
    created_at: datetime
    standard: bool = False


def plan_keys(plan_id: str, legal_entity_id: str | None = None, created_at: datetime | None = None) -> Keys:
    """Where a plan lives, listed by entity and creation."""
    listed = (
        (PLANS_LIST, f"{legal_entity_id}#{created_at.isoformat()}#{plan_id}")
        if legal_entity_id and created_at
        else None
    )
    return Keys(f"DUNNINGPLAN#{plan_id}", "PLAN", gsi1=listed)


def default_plan_lookup(legal_entity_id: str) -> str:
    """The lookup item that makes an entity's default plan unique."""
    return f"DUNNINGDEFAULT#{legal_entity_id}"


def select_plan(plans: Sequence[StoredPlan], customer_type: str, method: PaymentMethod) -> StoredPlan | None:
    """The plan for an invoice of a customer type paid by ``method``: the most specific match (payment
    method counts more than customer type), then the default, then the newest. Pure."""
    best: tuple[tuple[int, int, str], StoredPlan] | None = None
    for stored in plans:
        plan = stored.plan
        if plan.customer_type is not None and plan.customer_type != customer_type:
            continue
        if plan.payment_methods and method not in plan.payment_methods:
            continue
        score = (2 if plan.payment_methods else 0) + (1 if plan.customer_type else 0)
        rank = (score, 1 if stored.default else 0, stored.created_at.isoformat())
        if best is None or rank > best[0]:
            best = (rank, stored)
    return best[1] if best else None


def covers_everything(stored: StoredPlan) -> bool:
    """True if a plan matches every invoice (no customer type, no payment methods): then the standard plan
    never applies to its entity."""
    return stored.plan.customer_type is None and not stored.plan.payment_methods


def standard_stored_plan(
    legal_entity_id: str | None, country: str, on: date, limits: LimitsTable
) -> StoredPlan | None:
    """The standard plan of ``country`` for a claim due on ``on`` (None where its limits are unknown), as
    the plan of ``legal_entity_id``."""
    try:
        plan = standard_plan(country, on, limits)
    except UnknownDunningLimitError:
        return None
    return _as_stored(plan, legal_entity_id)


def _as_stored(plan: DunningPlan, legal_entity_id: str | None) -> StoredPlan:
    parsed = parse_standard_plan_id(plan.id)
    # "Created" when the limits it follows became valid: a fixed date, so reads repeat exactly.
    valid_from = parsed[1] if parsed is not None else date.min
    return StoredPlan(
        plan=plan,
        legal_entity_id=legal_entity_id,
        default=True,
        created_at=datetime.combine(valid_from, datetime.min.time(), UTC),
        standard=True,
    )


def effective_dunning_plan(
    plans: Sequence[StoredPlan],
    case: DunningCase,
    customer_type: str,
    country: str,
    limits: LimitsTable = DEFAULT_LIMITS,
) -> StoredPlan | None:
    """The plan a case follows, the one rule every reader of plans uses: the plan it started with; else
    the seller's own plan that matches best (:func:`select_plan`); else the standard plan of the seller's
    ``country`` for the invoice's due date. None where the plan it started with is gone or no limits are
    known for the country on the due date. Pure."""
    if case.plan_id is not None:
        started = next((p for p in plans if p.plan.id == case.plan_id), None)
        if started is not None:
            return started
        standard = standard_plan_of_id(case.plan_id, limits)
        return _as_stored(standard, case.legal_entity_id) if standard is not None else None
    own = select_plan(plans, customer_type, case.payment_method)
    if own is not None:
        return own
    return standard_stored_plan(case.legal_entity_id, country, case.due_date, limits)


class PlanStore:
    """Reads plans; caches one entity's plans for the life of the object (one work item, one request)."""

    def __init__(self, store: DocumentStore, limits: LimitsTable = DEFAULT_LIMITS) -> None:
        self._store = store
        self._limits = limits
        self._by_entity: dict[str, list[StoredPlan]] = {}

    def for_entity(self, legal_entity_id: str) -> list[StoredPlan]:
        """Every plan of an entity (one query)."""
        if legal_entity_id not in self._by_entity:
            plans: list[StoredPlan] = []
            cursor: str | None = None
            while True:
                page = self._store.query(PLANS_LIST, f"{legal_entity_id}#", index="gsi1", cursor=cursor)
                plans += [item.document(StoredPlan) for item in page.items if item.doc is not None]
                cursor = page.next_cursor
                if cursor is None:
                    break
            self._by_entity[legal_entity_id] = plans
        return self._by_entity[legal_entity_id]

    def all(self) -> list[StoredPlan]:
        """Every plan of every entity, by entity and creation."""
        plans: list[StoredPlan] = []
        cursor: str | None = None
        while True:
            page = self._store.query(PLANS_LIST, index="gsi1", cursor=cursor)
            plans += [item.document(StoredPlan) for item in page.items if item.doc is not None]
            cursor = page.next_cursor
            if cursor is None:
                return plans

    def for_case(self, case: DunningCase, customer: Customer, country: str) -> StoredPlan | None:
        """The plan a case follows (:func:`effective_dunning_plan`); ``country`` is the seller's."""
        plans = self.for_entity(case.legal_entity_id)
        return effective_dunning_plan(plans, case, customer.type.value, country, self._limits)


@dataclass(frozen=True)
class ReminderResult:
    """An on-demand reminder: the case after it, and whether this call sent it (False: sent before)."""

    case: DunningCase
    created: bool


class DunningService:
    """Plans, reminders on demand, failed charges, disputes and reading a case."""

    def __init__(
        self,
        store: DocumentStore,
        ledger: LedgerService,
        notifications: NotificationSender,
        clock: Clock,
        limits: LimitsTable = DEFAULT_LIMITS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._limits = limits
        self._notifications = notifications
        self.steps = StepWriter(store, ledger, notifications)

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
            return _as_stored(standard, None)
        found = self._store.get_document(plan_keys(plan_id).pk, "PLAN", StoredPlan)
        if found is None:
            raise NotFoundError(f"no dunning plan {plan_id}")
        return found

    # ---- one invoice -----------------------------------------------------------------------------------

    def case(self, invoice_id: str) -> DunningCase:
        """An invoice's dunning case (404 when dunning never saw it)."""
        found = self._store.get_document(f"DUNNING#{invoice_id}", "CASE", DunningCase)
        if found is None:
            raise NotFoundError(f"invoice {invoice_id} has no dunning case")
        return found

    def remind(self, invoice_id: str, with_fee: bool = False) -> ReminderResult:
        """Send a reminder now (at most one a day per invoice; the same day again returns that one). With
        ``with_fee`` it charges the plan's reminder fee, if the law allows one today."""
        for attempt in range(ATTEMPTS):
            invoice, case, version, customer, entity = self._read(invoice_id)
            day = entity.business_date(self._clock.now())
            key = f"dunning:{invoice_id}:manual-{day.isoformat()}"
            if key in case.done:
                if case.unsent:
                    return ReminderResult(self._deliver(case, version, invoice, entity, customer), False)
                return ReminderResult(case, False)
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
            return ReminderResult(self._deliver(after, version + 1, invoice, entity, customer), True)
        raise UnavailableError("the invoice's dunning kept changing; try again")

    def record_failed_charge(
        self, invoice_id: str, method: PaymentMethod, reason: str, at: datetime
    ) -> DunningCase:
        """A card or Vipps charge of the invoice failed: card charges are retried on the plan's retry days
        (counted from the failure) before its steps; Vipps retries by itself, so the plan's steps follow.
        The first failure starts the schedule; later ones (a retry declined) change nothing. The customer
        is told once (message key ``dunning:<invoice>:failed-charge``)."""
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
            self._tell_failed(case, invoice, entity, customer)
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

    def _deliver(
        self, case: DunningCase, version: int, invoice: Invoice, entity: LegalEntity, customer: Customer
    ) -> DunningCase:
        sent = self.steps.send(case, invoice, entity, customer)
        writes = Writes()
        case_write(writes, sent, version)
        try:
            self.steps.commit(writes)
        except WriteConflictError:
            return sent  # the run recorded the delivery meanwhile
        return sent

    def _tell_failed(
        self, case: DunningCase, invoice: Invoice, entity: LegalEntity, customer: Customer
    ) -> None:
        stored = PlanStore(self._store, self._limits).for_case(case, customer, entity.country)
        next_attempt: date | None = None
        if stored is not None and case.failed_charge_on is not None:
            action = upcoming(stored.plan, case, invoice)
            next_attempt = action.due_on if isinstance(action, RetryCharge) else None
        context: dict[str, Any] = {
            "customer_name": customer.name,
            "seller_name": entity.name,
            "invoice_number": str(invoice.number),
            "amount": Money(invoice.open_amount, invoice.currency),
            "next_attempt": next_attempt,
        }
        self._notifications.send(
            message_key=f"dunning:{invoice.id}:failed-charge",
            kind=MessageKind.PAYMENT_FAILED,
            channel=Channel.EMAIL,
            recipient=Recipient.of(
                customer, email_opt_out=customer.email_opt_out, sms_opt_out=customer.sms_opt_out
            ),
            context=context,
        )


def _after(day: date) -> date:
    from datetime import timedelta

    return day + timedelta(days=1)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0.001, 0.01) * min(attempt + 1, 8))


@dataclass(frozen=True)
class Dunning:
    """Dunning's services, as the container would hold them."""

    service: DunningService
    run: DunningRun


def dunning_services(services: Services) -> Dunning:
    """Build dunning's services from the container's collaborators (until the container has a ``dunning``
    property). The run's queue is ``settings.dunning_queue_url`` once that setting exists."""
    from chalicelib.dunning.run import DunningRun

    service = DunningService(services.documents, services.ledger, services.notifications, services.clock)
    queue_url = str(getattr(services.settings, "dunning_queue_url", ""))
    exporter = HandoffExporter(services.documents, services.s3, services.settings.documents_bucket)
    run = DunningRun(
        services.documents,
        service.steps,
        services.sqs,
        queue_url,
        exporter,
        access=services.access,
        stops=services.stops,
    )
    return Dunning(service, run)


def new_plan_id() -> str:
    """A fresh plan id."""
    return new_id("dpl")


__all__ = [
    "Dunning",
    "DunningService",
    "PlanStore",
    "ReminderResult",
    "StoredPlan",
    "covers_everything",
    "dunning_services",
    "effective_dunning_plan",
    "new_plan_id",
    "select_plan",
    "standard_stored_plan",
]
