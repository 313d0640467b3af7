"""What dunning's messages to the customer say: a reminder or collection notice, and the message that an
automatic charge failed.

Dunning sends nothing itself. A letter step records ``dunning.step_taken`` and a failed charge
``payment.failed``; the notifications turn those events into notices, and their consumer asks
:class:`DunningMessages` (wired in by the container, so that notifications need not import dunning) for
the message's recipient and template context when it sends it, once per message key:

- a letter: ``dunning:<invoice id>:<step>`` (the step key, as the letter's ``key`` in the case);
- a failed charge: ``dunning:<invoice id>:failed-charge`` (once per invoice, however many retries fail).

A message whose invoice is no longer owed when it is sent (:func:`no_longer_owed`: paid, credited or
void between the step and the send) is skipped with that reason: a customer who has just paid is not
asked to pay again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.catalog.models import LegalEntity
from chalicelib.customers.models import Customer
from chalicelib.dunning.index import DunningCase, Letter, new_case
from chalicelib.dunning.limits import DEFAULT_LIMITS, LimitsTable
from chalicelib.dunning.plan_store import PlanStore
from chalicelib.dunning.plans import StepKind
from chalicelib.dunning.schedule import RetryCharge
from chalicelib.dunning.steps import upcoming
from chalicelib.money import Money
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore
from chalicelib.values import PaymentMethod

FAILED_CHARGE_MESSAGE = "payment_failed"  # the notifications' message kind of a failed charge

# The recipient and the template's context, or why the message is not sent.
MessageContent = tuple[Customer, dict[str, Any]] | str
MessageSource = Callable[[str, Mapping[str, str]], MessageContent]


def failed_charge_key(invoice_id: str) -> str:
    """The message key of the failed-charge message of ``invoice_id`` (one per invoice)."""
    return f"dunning:{invoice_id}:failed-charge"


def no_longer_owed(invoice: Invoice) -> str | None:
    """Why a dunning message about ``invoice`` is no longer due (``paid``, or the invoice's status when it
    was credited or voided), or None while it is still owed."""
    if invoice.status == InvoiceStatus.PAID or (
        invoice.status == InvoiceStatus.ISSUED and invoice.open_amount <= 0
    ):
        return "paid"
    if invoice.status != InvoiceStatus.ISSUED:
        return invoice.status.value
    return None


def letter_context(
    letter: Letter, invoice: Invoice, entity: LegalEntity, customer: Customer
) -> dict[str, Any]:
    """What the reminder and collection notice templates need."""
    fee = Money(letter.fee, invoice.currency) if letter.fee else None
    return {
        "customer_name": customer.name,
        "seller_name": entity.name,
        "invoice_number": str(invoice.number),
        "amount": Money(letter.amount, invoice.currency),
        "due_date": invoice.due_date,
        "new_due_date": letter.deadline,
        "deadline": letter.deadline,
        "fee": fee,
        "kid": invoice.kid,
        "account_number": entity.bank_account,
    }


class DunningMessages:
    """Reads what a dunning message needs when the notifications send it."""

    def __init__(self, store: DocumentStore, limits: LimitsTable = DEFAULT_LIMITS) -> None:
        self._store = store
        self._limits = limits

    def sources(self) -> dict[str, MessageSource]:
        """The message sources by the notifications' message kind they serve."""
        return {
            StepKind.REMINDER.value: self.letter,
            StepKind.COLLECTION_NOTICE.value: self.letter,
            FAILED_CHARGE_MESSAGE: self.failed_charge,
        }

    def letter(self, key: str, refs: Mapping[str, str]) -> MessageContent:
        """The letter of step ``key`` as the step recorded it in the invoice's case."""
        found = self._read(refs["invoice_id"])
        if isinstance(found, str):
            return found
        invoice, case, customer, entity = found
        letter = next((letter for letter in case.letters if letter.key == key), None) if case else None
        if letter is None:
            return f"no letter {key} was recorded"
        reason = no_longer_owed(invoice)
        if reason is not None:
            return reason
        return customer, letter_context(letter, invoice, entity, customer)

    def failed_charge(self, key: str, refs: Mapping[str, str]) -> MessageContent:
        """The failed-charge message: the open amount, and when the card is tried again (if the plan
        retries it). The failure's instant and method come with the notice, so the message is right even
        before dunning has recorded the failure in the case."""
        found = self._read(refs["invoice_id"])
        if isinstance(found, str):
            return found
        invoice, stored_case, customer, entity = found
        reason = no_longer_owed(invoice)
        if reason is not None:
            return reason
        case = stored_case or new_case(invoice)
        if case.failed_charge_on is None:
            failed_on = entity.business_date(datetime.fromisoformat(refs["failed_at"]))
            case = case.model_copy(
                update={"failed_charge_on": failed_on, "payment_method": PaymentMethod(refs["method"])}
            )
        next_attempt: date | None = None
        stored = PlanStore(self._store, self._limits).for_case(case, customer, entity.country)
        if stored is not None:
            action = upcoming(stored.plan, case, invoice)
            next_attempt = action.due_on if isinstance(action, RetryCharge) else None
        return customer, {
            "customer_name": customer.name,
            "seller_name": entity.name,
            "invoice_number": str(invoice.number),
            "amount": Money(invoice.open_amount, invoice.currency),
            "next_attempt": next_attempt,
        }

    def _read(self, invoice_id: str) -> tuple[Invoice, DunningCase | None, Customer, LegalEntity] | str:
        """The invoice, its case (None before dunning saw it), the customer and the seller, or what is
        gone: one BatchGetItem for invoice and case, one for customer and seller."""
        invoice_key = (keys.invoice(invoice_id).pk, "INVOICE")
        case_key = (f"DUNNING#{invoice_id}", "CASE")
        found = self._store.batch_get([invoice_key, case_key])
        invoice_item = found.get(invoice_key)
        if invoice_item is None or invoice_item.doc is None:
            return f"invoice {invoice_id} is gone"
        invoice = invoice_item.document(Invoice)
        case_item = found.get(case_key)
        case = case_item.document(DunningCase) if case_item is not None and case_item.doc else None
        customer_key = (keys.customer(invoice.customer_id).pk, keys.customer(invoice.customer_id).sk)
        entity_key = (keys.legal_entity(invoice.legal_entity_id).pk, "ENTITY")
        people = self._store.batch_get([customer_key, entity_key])
        customer_item, entity_item = people.get(customer_key), people.get(entity_key)
        if (
            customer_item is None
            or customer_item.doc is None
            or entity_item is None
            or entity_item.doc is None
        ):
            return f"the customer or seller of invoice {invoice_id} is gone"
        return invoice, case, customer_item.document(Customer), entity_item.document(LegalEntity)
