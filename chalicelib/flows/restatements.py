"""Restating invoiced time: the path every change, pause, resume and stop of a subscription takes (the
flows :mod:`chalicelib.flows.change_subscription`, :mod:`chalicelib.flows.pause_subscription` and
:mod:`chalicelib.flows.stop_subscription` use it), and the money that follows for periods already invoiced.

Each change runs in three steps, so that a crash at any point is finished by the next call on the
subscription (or the same call retried):

1. one transaction writes the new phases and the planned :class:`Restatement` on the subscription
   (credit note ids and the lines of the invoice to issue are fixed here), with the change's events, and
   removes the stale draft;
2. the credit notes are issued, each idempotent by its id;
3. one transaction numbers and issues the restatement invoice with its ledger entry and clears the plan;
   the draft of the next invoice is then rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from chalicelib.billing.credit_notes import CreditNotes
from chalicelib.billing.drafting import Seller, subscription_invoice_id
from chalicelib.billing.drafts import DraftService
from chalicelib.billing.issuing import ToIssue, invoice_series, issuing_writes
from chalicelib.billing.lines import totals_of, vat_summary_of
from chalicelib.billing.models import Invoice, InvoiceLine, InvoiceStatus
from chalicelib.billing.restatement import (
    IssuedInvoice,
    Straddle,
    new_terms_lines,
    restate_issued,
    restatement,
    restatement_invoice_id,
)
from chalicelib.catalog.models import LegalEntity, Plan, Product
from chalicelib.catalog.plans import load_products
from chalicelib.catalog.service import CatalogService
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE
from chalicelib.clock import Clock
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    UnavailableError,
    ValidationFailedError,
)
from chalicelib.events import Event
from chalicelib.ledger.service import LedgerService
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, WriteConflictError, lookup_item
from chalicelib.subscriptions.access import AccessService
from chalicelib.subscriptions.models import Phase, Restatement, Subscription
from chalicelib.subscriptions.timeline import BillingPeriod, billing_periods
from chalicelib.subscriptions.writes import subscription_item

ATTEMPTS = 10
LOOK_BACK = 3  # invoiced periods before the effective date whose lines may still cover it


def invalid(field: str, message: str, code: str = "invalid") -> ValidationFailedError:
    """A refused change: problem JSON naming the field."""
    return ValidationFailedError(message, [FieldError(field, message, code)])


def phases_before(phases: Sequence[Phase], day: date) -> list[Phase]:
    """The phases that start before ``day`` (the last of them then ends at ``day``)."""
    return [phase for phase in phases if phase.start < day]


def continuation(phases: Sequence[Phase], day: date, source: str, quantity: int | None = None) -> list[Phase]:
    """The phases from ``day`` on, as if nothing happened: the phase in effect on ``day`` restarted there
    on its own anchor (so its billing day and term are kept), then the phases after it."""
    in_effect = [phase for phase in phases if phase.start <= day and not phase.paused]
    later = [phase for phase in phases if phase.start > day and not phase.paused]
    result: list[Phase] = []
    if in_effect:
        current = in_effect[-1]
        result.append(
            current.model_copy(update={"start": day, "anchor": current.period_anchor, "source": source})
        )
    result.extend(later)
    if quantity is not None:
        result = [phase.model_copy(update={"quantity": quantity}) for phase in result]
    return result


@dataclass(frozen=True)
class Loaded:
    """A subscription as read for a change, with what billing it needs."""

    item: DocumentItem
    subscription: Subscription
    plans: dict[str, Plan]
    products: dict[str, Product]
    entity: LegalEntity

    @property
    def version(self) -> int:
        """The version the change's first write is conditional on."""
        return int(self.item.version)

    @property
    def seller(self) -> Seller:
        """The seller and its VAT rules."""
        return Seller(self.entity, DEFAULT_VAT_TABLE)


class Restatements:
    """The three steps every change, pause, resume and stop goes through: read, plan the restatement,
    commit it with the change's events, and finish it (credit notes, the restatement invoice, the draft)."""

    def __init__(
        self,
        store: DocumentStore,
        catalog: CatalogService,
        credit_notes: CreditNotes,
        ledger: LedgerService,
        drafts: DraftService,
        access: AccessService,
        clock: Clock,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._credit_notes = credit_notes
        self._ledger = ledger
        self._drafts = drafts
        self._access = access
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------------------

    def load(self, subscription_id: str, extra_plans: Sequence[str] = ()) -> Loaded:
        """The subscription (finishing any change left half-way first), its plans, products and seller."""
        item = self._store.get(keys.subscription(subscription_id).pk, "SUB")
        if item is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        subscription = item.document(Subscription)
        if subscription.pending is not None:
            self.finish(subscription_id)
            return self.load(subscription_id, extra_plans)
        plans = self._drafts.load_plans([*(p.plan_id for p in subscription.phases), *extra_plans])
        return Loaded(
            item,
            subscription,
            plans,
            load_products(self._store, plans.values()),
            self._catalog.legal_entity(subscription.legal_entity_id),
        )

    def now(self) -> datetime:
        """The instant a change is made (its events' time)."""
        return self._clock.now()

    def today(self, loaded: Loaded) -> date:
        """The business date on the subscription's seller's calendar."""
        return loaded.entity.business_date(self.now())

    def issued_from(self, loaded: Loaded, effective: date) -> list[IssuedInvoice]:
        """The issued invoices (and their credit notes) whose lines may cover days from ``effective``."""
        subscription = loaded.subscription
        invoiced_end = subscription.invoiced_period.end
        ids: list[str] = []
        recent: list[str] = []
        for billing_period in billing_periods(subscription.phases, loaded.plans):
            if billing_period.period.start >= invoiced_end:
                break
            invoice_id = subscription_invoice_id(subscription.id, billing_period.period.start)
            if billing_period.period.end > effective:
                ids.append(invoice_id)
            else:
                recent = [*recent[-(LOOK_BACK - 1) :], invoice_id]
        restated = (restatement_invoice_id(subscription.id, n) for n in range(1, subscription.changes + 1))
        ids = [*recent, *ids, *restated]
        found = self._store.batch_get((keys.invoice(i).pk, "INVOICE") for i in dict.fromkeys(ids))
        invoices = [item.document(Invoice) for item in found.values()]
        invoices = [i for i in invoices if i.status in (InvoiceStatus.ISSUED, InvoiceStatus.PAID)]
        note_ids: dict[str, list[str]] = {}
        for invoice in invoices:
            markers = self._store.query(keys.invoice(invoice.id).pk, "CREDIT#")
            note_ids[invoice.id] = [m.sk.removeprefix("CREDIT#") for m in markers.items]
        notes = self._store.batch_get((keys.invoice(n).pk, "INVOICE") for ns in note_ids.values() for n in ns)
        return [
            IssuedInvoice(
                invoice,
                [
                    notes[(keys.invoice(n).pk, "INVOICE")].document(Invoice)
                    for n in note_ids[invoice.id]
                    if (keys.invoice(n).pk, "INVOICE") in notes
                ],
            )
            for invoice in invoices
        ]

    # -- planning --------------------------------------------------------------------------------------

    def plan_restatement(
        self,
        loaded: Loaded,
        new_phases: list[Phase],
        effective: date,
        straddle: Straddle,
        *,
        charge_from: date | None = None,
        extra_lines: Sequence[InvoiceLine] = (),
    ) -> Restatement | None:
        """What the change does to invoices already issued: credits, and one invoice for what is owed.
        New terms are charged for periods starting from ``charge_from`` (default: ``effective``) that
        start before the end of what was invoiced."""
        subscription = loaded.subscription
        number = subscription.changes + 1
        restated = restate_issued(self.issued_from(loaded, effective), effective, straddle, number)
        invoiced_end = subscription.invoiced_period.end
        start = charge_from or effective
        charged: list[BillingPeriod] = []
        for billing_period in billing_periods(new_phases, loaded.plans):
            if billing_period.period.start >= invoiced_end:
                break
            if billing_period.period.start >= start:
                charged.append(billing_period)
        updated = subscription.model_copy(update={"phases": new_phases})
        lines = [*new_terms_lines(loaded.seller, updated, charged, loaded.products), *extra_lines]
        invoiced = subscription.invoiced_period
        if charged and charged[-1].period.end > invoiced.end:
            invoiced = charged[-1].dates
        return restatement(subscription, number, restated, lines, invoiced)

    def commit(
        self,
        loaded: Loaded,
        updated: Subscription,
        planned: Restatement | None,
        *,
        events: Sequence[Event],
        access_until: date | None = None,
        revoke_products: Sequence[str] = (),
        access_reason: str = "change",
    ) -> Subscription:
        """Step 1: the new terms and the plan, and the change's ``events``, in one transaction; then steps
        2 and 3. Access to ``revoke_products`` (default: all) ends at ``access_until`` (at once when
        None), recorded as ``access.revoked`` for ``access_reason``."""
        subscription = loaded.subscription
        recorded = list(events)
        changed = updated.model_copy(
            update={
                "pending": planned,
                "changes": subscription.changes + (1 if planned else 0),
                "next_invoice_id": None,
                "next_invoice_date": None,
            }
        )
        replaces: list[tuple[DocumentItem, int]] = [
            (subscription_item(changed, loaded.version), loaded.version)
        ]
        creates: list[DocumentItem] = []
        for plan_id in {p.plan_id for p in changed.phases} - {p.plan_id for p in subscription.phases}:
            member = keys.plan_member(plan_id, subscription.id)
            if self._store.get(member.pk, member.sk) is None:
                creates.append(
                    lookup_item(
                        member.pk, keys.subscription(subscription.id), kind="plan_member", sk=member.sk
                    )
                )
        if revoke_products or access_until is not None:
            revoked, revoked_events = self._access.revoke(
                subscription, list(revoke_products) or subscription.product_ids, access_reason, access_until
            )
            replaces += revoked
            recorded += revoked_events
        deletes = []
        if subscription.next_invoice_id:
            draft = self._store.get(keys.invoice(subscription.next_invoice_id).pk, "INVOICE")
            if draft is not None and draft.status == InvoiceStatus.DRAFT:
                deletes.append(draft)
        try:
            self._store.write(creates, replaces, deletes=deletes, events=recorded)
        except WriteConflictError:
            raise ConflictError("the subscription changed at the same time; try again") from None
        return self.finish(subscription.id)

    # -- finishing -------------------------------------------------------------------------------------

    def finish(self, subscription_id: str) -> Subscription:
        """Steps 2 and 3 of a change recorded on the subscription, then the draft; safe to repeat."""
        for attempt in range(ATTEMPTS):
            item = self._store.get(keys.subscription(subscription_id).pk, "SUB")
            if item is None:
                raise NotFoundError(f"no subscription {subscription_id}")
            subscription = item.document(Subscription)
            planned = subscription.pending
            if planned is None:
                break
            for credit in planned.credits:
                self._credit_notes.issue(
                    credit.invoice_id, None, lines=credit.lines, credit_note_id=credit.credit_note_id
                )
            try:
                self._issue(subscription, int(item.version), planned)
            except WriteConflictError:
                time.sleep(0.002 * 2 ** min(attempt, 4))
                continue
            break
        else:
            raise UnavailableError("the invoice series is busy; try again")
        self._drafts.rebuild(subscription_id)
        found = self._store.get_document(keys.subscription(subscription_id).pk, "SUB", Subscription)
        assert found is not None
        return found

    def _issue(self, subscription: Subscription, version: int, planned: Restatement) -> None:
        done = subscription.model_copy(update={"pending": None, "invoiced_period": planned.invoiced_period})
        replaces: list[tuple[DocumentItem, int]] = [(subscription_item(done, version), version)]
        if not planned.lines or self._store.get(keys.invoice(planned.invoice_id).pk, "INVOICE") is not None:
            self._store.write([], replaces)
            return
        entity = self._catalog.legal_entity(subscription.legal_entity_id)
        now = self.now()
        today = entity.business_date(now)
        invoice = Invoice(
            id=planned.invoice_id,
            legal_entity_id=entity.id,
            customer_id=subscription.customer_id,
            subscription_id=subscription.id,
            status=InvoiceStatus.ISSUED,
            currency=subscription.currency,
            language=subscription.language,
            payment_method=subscription.payment_method,
            invoice_date=today,
            due_date=today + timedelta(days=entity.due_days_for(subscription.payment_method)),
            period=planned.period,
            lines=planned.lines,
            totals=totals_of(planned.lines),
            vat_summary=vat_summary_of(planned.lines),
            open_amount=totals_of(planned.lines).gross,
            issued_at=now,
            created_at=now,
        )
        issued = issuing_writes(
            invoice_series(entity), [ToIssue(invoice, subscription.customer_number)], self._ledger
        )
        self._store.write(
            issued.creates, [*replaces, *issued.replaces], updates=issued.updates, events=issued.events
        )
