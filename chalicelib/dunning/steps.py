"""Taking one dunning action on one invoice: the writes of its transaction (the case moved on, a numbered
reminder-fee document with its ledger entry, a card retry request).

A letter step is one transaction: the step, its letter (what it asks for, its deadline, its fee document)
and the case moved to the day of its next step, with the step's events. Nothing is sent here: the
``dunning.step_taken`` event of a letter step (``action`` ``reminder`` or ``collection_notice``) asks the
notifications for the letter, sent once under the step key (:mod:`chalicelib.notifications.events`), so a
letter recorded is a letter sent, however the run crashes.

Each step records its events in the transaction that records it (:func:`step_events`): ``dunning.step_taken``,
``invoice.overdue`` with the invoice's first step, and ``invoice.issued`` for its fee document.

Reminder fees: a fee is a normal invoice in the seller's invoice series with one ``fee`` line, its own
number and KID, issued to the ledger in the step's transaction. Its line's ``reference`` is the step key
(``dunning:<invoice id>:<step>``), which names the overdue invoice. The letter asks for the overdue
invoice's open amount plus the open fees, payable to the overdue invoice's KID: the ledger applies such a
payment to that invoice and, with ``excess_to_open_items`` (the default), the excess to the customer's
other open items, oldest due first, which settles the fee.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.billing.issuing import Collection, ToIssue, invoice_series, issuing_writes
from chalicelib.billing.kid import customer_number_in
from chalicelib.billing.lines import totals_of, vat_summary_of
from chalicelib.billing.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from chalicelib.catalog.models import LegalEntity
from chalicelib.catalog.vat import VatCode
from chalicelib.customers.models import Customer
from chalicelib.dunning.index import DunningCase, Letter, case_item
from chalicelib.dunning.plans import DunningPlan, DunningStep, StepKind
from chalicelib.dunning.schedule import DunningAction, DunningState, next_action, step_key
from chalicelib.events import Event, EventType, new_event
from chalicelib.ledger.posting import Book, stable_id
from chalicelib.ledger.service import LedgerService
from chalicelib.money import Money
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, Keys, document_item
from chalicelib.store.due import CHARGE_RUN, due_entry
from chalicelib.values import Document

DEFAULT_LETTER_DEADLINE_DAYS = 14
FEE_TEXTS = {
    StepKind.REMINDER: {
        "nb": "Purregebyr",
        "sv": "Påminnelseavgift",
        "da": "Rykkergebyr",
        "en": "Reminder fee",
    },
    StepKind.COLLECTION_NOTICE: {
        "nb": "Gebyr for inkassovarsel",
        "sv": "Avgift för inkassokrav",
        "da": "Gebyr for påkrav",
        "en": "Debt collection notice fee",
    },
}
Update = tuple[Any, list[Any], Any]


class CardRetryRequest(Document):
    """A request to charge a declined card again, written in the transaction that takes the retry step.
    The daily charging job (``RetryCardCharges.charge_retries``) picks requests up by day (gsi1
    ``CARDRETRY#<day>``) and takes each off that list once handled, recording ``outcome``: ``attempted``
    (the card was charged again, as attempt ``attempt`` of the invoice's charge record, for the invoice's
    open amount at that moment), or why not (``invoice_closed``, ``no_agreement``, ``not_card``,
    ``superseded``). A success arrives as a payment through the ledger and stops the dunning."""

    key: str
    invoice_id: str
    customer_id: str
    attempt: int
    amount: int
    due_on: date
    requested_at: datetime
    outcome: str | None = None
    handled_at: datetime | None = None


def retry_partition(day: date) -> str:
    """The gsi1 list of the card retry requests due on ``day`` (not yet handled)."""
    return f"CARDRETRY#{day.isoformat()}"


def retry_request_keys(invoice_id: str, attempt: int, day: date | None = None) -> Keys:
    """Where a card retry request lives, listed by the day it is due (unlisted once handled)."""
    listed = (retry_partition(day), f"{invoice_id}#{attempt}") if day else None
    # In the charging job's partition of the due index (shard 1: a retry; see payments.records).
    due = due_entry(CHARGE_RUN, day, 1, f"{invoice_id}#{attempt}") if day else None
    return Keys(f"DUNNING#{invoice_id}", f"RETRY#{attempt:02d}", gsi1=listed, gsi3=due)


@dataclass
class Writes:
    """One transaction's writes."""

    creates: list[DocumentItem] = field(default_factory=list)
    replaces: list[tuple[DocumentItem, int]] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def case_write(writes: Writes, case: DunningCase, version: int) -> None:
    """Store ``case``: created when ``version`` is 0 (no case yet), else replaced at ``version``."""
    if version == 0:
        writes.creates.append(case_item(case))
    else:
        writes.replaces.append((case_item(case, version), version))


def state_of(case: DunningCase, invoice: Invoice) -> DunningState:
    """The schedule's view of a case: what is open now (checked at run time, so payments, credit notes and
    write-offs all count), the failed charge and what was done."""
    return DunningState(
        invoice_id=invoice.id,
        due_date=case.due_date,
        amount=Money(invoice.open_amount, invoice.currency),
        payment_method=case.payment_method,
        failed_charge_on=case.failed_charge_on,
        disputed=case.status.value == "disputed",
        done=dict(case.done),
    )


def upcoming(plan: DunningPlan, case: DunningCase, invoice: Invoice) -> DunningAction | None:
    """The next action of the plan whenever it falls due, or None when the plan is finished."""
    return next_action(plan, state_of(case, invoice), date.max)


def customer_number_of(invoice: Invoice, customer: Customer | None) -> int:
    """The customer number the invoice's KID carries (the customer's own number as a fallback)."""
    found = customer_number_in(invoice.kid)
    if found is not None:
        return found
    return customer.number if customer is not None else 0


def fee_invoice(
    invoice: Invoice,
    step_key: str,
    kind: StepKind,
    fee: Money,
    day: date,
    deadline: date,
    now: datetime,
) -> Invoice:
    """The reminder-fee document: an invoice in the seller's series with one fee line (outside the scope
    of VAT: a reminder fee is compensation, not a supply); its number and KID are given on issue."""
    text = FEE_TEXTS[kind].get(invoice.language, FEE_TEXTS[kind]["en"])
    line = InvoiceLine(
        kind=LineKind.FEE,
        text=f"{text} ({invoice.number})",
        quantity=1,
        unit_price=fee.amount,
        vat_code=VatCode.EXEMPT.value,
        vat_rate=0,
        net=fee.amount,
        vat=0,
        gross=fee.amount,
        reference=step_key,
    )
    return Invoice(
        id=stable_id("inv", step_key),
        legal_entity_id=invoice.legal_entity_id,
        customer_id=invoice.customer_id,
        subscription_id=None,
        status=InvoiceStatus.ISSUED,
        currency=invoice.currency,
        language=invoice.language,
        payment_method=invoice.payment_method,
        invoice_date=day,
        due_date=deadline,
        lines=[line],
        totals=totals_of([line]),
        vat_summary=vat_summary_of([line]),
        open_amount=fee.amount,
        issued_at=now,
        created_at=now,
    )


class StepWriter:
    """Builds the transactions of dunning actions."""

    def __init__(self, store: DocumentStore, ledger: LedgerService) -> None:
        self._store = store
        self._ledger = ledger

    def open_fees(self, case: DunningCase) -> int:
        """What the case's fee documents still claim (one BatchGetItem; none when it has no fees)."""
        ids = [letter.fee_invoice_id for letter in case.letters if letter.fee_invoice_id]
        if not ids:
            return 0
        found = self._store.batch_get((keys.invoice(i).pk, "INVOICE") for i in ids)
        return sum(item.document(Invoice).open_amount for item in found.values() if item.doc is not None)

    def letter(
        self,
        case: DunningCase,
        invoice: Invoice,
        entity: LegalEntity,
        customer: Customer,
        key: str,
        kind: StepKind,
        fee: Money | None,
        deadline_days: int | None,
        day: date,
        now: datetime,
        book: Book | None = None,
    ) -> tuple[Writes, DunningCase]:
        """Record a reminder or collection notice (with its fee document, if it charges one) and the
        events that send it. The caller moves the case on, adds it (:func:`case_write`) to the writes and
        commits them in one transaction."""
        deadline = day + timedelta(days=deadline_days or DEFAULT_LETTER_DEADLINE_DAYS)
        writes = Writes()
        charged = fee if fee is not None and fee.amount > 0 else None
        letter = Letter(
            key=key,
            kind=kind,
            sent_on=day,
            amount=invoice.open_amount + self.open_fees(case) + (charged.amount if charged else 0),
            fee=charged.amount if charged else 0,
            deadline=deadline,
        )
        if charged is not None:
            document = fee_invoice(invoice, key, kind, charged, day, deadline, now)
            to_issue = ToIssue(
                document, customer_number_of(invoice, customer), Collection.WITH_DUNNED_INVOICE
            )
            issued = issuing_writes(invoice_series(entity), [to_issue], self._ledger, book=book)
            (stored,) = issued.documents
            writes.creates += issued.creates
            writes.replaces += issued.replaces
            writes.updates += issued.updates
            writes.events += issued.events
            letter = letter.model_copy(
                update={
                    "fee_invoice_id": stored.id,
                    "fee_invoice_number": stored.number,
                    "fee_kid": stored.kid,
                }
            )
        writes.events += step_events(case, invoice, key, letter, now)
        after = case.model_copy(update={"done": {**case.done, key: day}, "letters": [*case.letters, letter]})
        return writes, after

    def retry(
        self, case: DunningCase, invoice: Invoice, key: str, attempt: int, day: date, now: datetime
    ) -> tuple[Writes, DunningCase]:
        """The request the card adapter charges from, and the case with the retry recorded (the caller
        adds the case to the writes)."""
        request = CardRetryRequest(
            key=key,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            attempt=attempt,
            amount=invoice.open_amount,
            due_on=day,
            requested_at=now,
        )
        after = case.model_copy(update={"done": {**case.done, key: day}})
        writes = Writes(
            creates=[document_item("card_retry", retry_request_keys(invoice.id, attempt, day), request)]
        )
        return writes, after

    def commit(self, writes: Writes) -> None:
        """One transaction, with the events of what it changes."""
        self._store.write(writes.creates, writes.replaces, updates=writes.updates, events=writes.events)


def steps_taken(case: DunningCase) -> list[str]:
    """The keys of the steps taken on the case's invoice: plan steps and reminders on demand, not card
    retries (a retry may come before the due date, and is no step of the plan)."""
    retry_prefix = step_key(case.invoice_id, 1).removesuffix("1")
    return [key for key in case.done if not key.startswith(retry_prefix)]


def step_events(
    case: DunningCase,
    invoice: Invoice,
    key: str,
    letter: Letter | None,
    now: datetime,
    kind: StepKind | None = None,
) -> list[Event]:
    """The events of taking step ``key`` (of ``kind``; a letter's own kind when ``letter`` is given) on
    ``case`` (as it was before the step), for the step's own transaction: ``dunning.step_taken`` (with the
    letter's fee and fee document, if any) and, when no step was taken on the invoice before,
    ``invoice.overdue``: dunning's first step is when the invoice counts as overdue. The case's version
    makes the step, and so its events, commit once."""
    taken = steps_taken(case)
    action = letter.kind if letter is not None else kind
    currency = invoice.currency.value
    fee = {"amount": letter.fee, "currency": currency} if letter is not None and letter.fee else None
    events: list[Event] = []
    if not taken:
        events.append(
            new_event(
                EventType.INVOICE_OVERDUE,
                invoice.legal_entity_id,
                now,
                {
                    "invoice_id": invoice.id,
                    "customer_id": invoice.customer_id,
                    "due_date": invoice.due_date,
                    "open_amount": {"amount": invoice.open_amount, "currency": currency},
                },
            )
        )
    events.append(
        new_event(
            EventType.DUNNING_STEP_TAKEN,
            invoice.legal_entity_id,
            now,
            {
                "invoice_id": invoice.id,
                "customer_id": invoice.customer_id,
                "step": key.removeprefix(f"dunning:{invoice.id}:"),
                "step_number": len(taken) + 1,
                "fee": fee,
                "fee_invoice_id": letter.fee_invoice_id if letter is not None else None,
                "action": action.value if action is not None else None,
            },
        )
    )
    return events


def step_fee(step: DunningStep) -> Money | None:
    """A step's fee, if it charges one."""
    return step.fee if step.fee is not None and step.fee.amount > 0 else None


def letters_of(case: DunningCase, kinds: Sequence[StepKind]) -> list[Letter]:
    """The case's letters of the given kinds, oldest first."""
    return [letter for letter in case.letters if letter.kind in kinds]
