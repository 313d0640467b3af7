"""The items and tallies a payment writes, and the rule that puts an invoice the ledger has not seen on
it first: shared by the ledger service and the flows that move money on a customer's ledger."""

from __future__ import annotations

from datetime import datetime

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.ledger import rules
from chalicelib.ledger.models import Account, LedgerSettings, Payment, SuspenseItem
from chalicelib.ledger.posting import Update, invoice_facts, tally
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, document_item


def invalid(name: str, message: str, code: str = "invalid") -> ValidationFailedError:
    """A refused ledger request: problem JSON naming the field."""
    return ValidationFailedError(message, [FieldError(name, message, code)])


def onboard(
    account: Account, invoice: Invoice, settings: LedgerSettings, now: datetime
) -> rules.Posting | None:
    """An issued invoice the ledger has not seen (issued before billing called the seam) is put on it
    first, in the same transaction."""
    known = invoice.id in account.open or invoice.id in account.settled
    if known or invoice.status != InvoiceStatus.ISSUED or invoice.kind != InvoiceKind.INVOICE:
        return None
    facts = invoice_facts(invoice)
    return rules.issue_invoice(
        account, facts, settings.model_copy(update={"apply_credit_to_new_invoices": False}), now
    )


def payment_item(payment: Payment) -> DocumentItem:
    """A payment's item (listed under its paid-on day and status)."""
    return document_item("payment", keys.payment(payment.id, payment.paid_on), payment, status=payment.status)


def suspense_item(item: SuspenseItem) -> DocumentItem:
    """A suspense item's item (listed under its status, oldest payment first)."""
    return document_item(
        "suspense", keys.suspense(item.id, item.status.value, item.paid_on), item, item.status
    )


def day_total(payment: Payment, sign: int) -> Update:
    """The tally of the payment's day, currency, method and status moved by ``sign``."""
    key = keys.payment_day_total(
        payment.paid_on, payment.currency.value, payment.method.value, payment.status.value
    )
    return tally(key.pk, key.sk, sign, sign * payment.amount)
