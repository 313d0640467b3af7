"""Telling a customer their provider payment needs them: the agreement ended (or was never confirmed)
with an invoice still to pay, or a card charge asks for authentication on session. Each message is sent
once per key (the notification sender de-duplicates), so a retried run cannot send it twice.
"""

from __future__ import annotations

from typing import Any

from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.catalog.models import LegalEntity
from chalicelib.customers.models import Customer
from chalicelib.flows.payment_context import PaymentContext
from chalicelib.money import Currency, Money
from chalicelib.notifications.render import MessageKind
from chalicelib.notifications.sender import Channel, Recipient
from chalicelib.payments.records import ChargeRecord, PaymentSetup
from chalicelib.store import keys


class PaymentNotices:
    """The payment-failed messages the payment flows send."""

    def __init__(self, ctx: PaymentContext) -> None:
        self._ctx = ctx
        self._records = ctx.records

    def stopped(self, setup: PaymentSetup, invoice_id: str, *, only_if_open: bool) -> None:
        """The customer stopped (or never confirmed) the agreement and ``invoice_id`` is still to pay:
        ask them to pay it another way (once per invoice)."""
        invoice = self._ctx.invoice(invoice_id)
        if invoice is None:
            return
        if only_if_open and (invoice.status != InvoiceStatus.ISSUED or invoice.open_amount <= 0):
            return
        key = f"payments:{invoice.id}:agreement-{setup.state.value}"
        amount = Money(invoice.open_amount, invoice.currency)
        self._payment_failed(setup.customer_id, invoice, key, amount)

    def action_required(self, record: ChargeRecord, action_url: str) -> None:
        """The charge needs the customer (a card asking for authentication): send them the link where
        they pay it on session (once per invoice)."""
        invoice = self._ctx.invoice(record.invoice_id)
        setup = self._records.setup(record.agreement_id)
        if invoice is None or setup is None:
            return
        # One message per attempt: a retry withdraws the earlier attempt's charge, and its link with it.
        suffix = f"-{record.attempt}" if record.attempt else ""
        key = f"payments:{invoice.id}:action-required{suffix}"
        amount = Money(record.amount, Currency(record.currency))
        self._payment_failed(setup[0].customer_id, invoice, key, amount, action_url=action_url)

    def _payment_failed(
        self, customer_id: str, invoice: Invoice, key: str, amount: Money, *, action_url: str | None = None
    ) -> None:
        """E-mail the customer the payment-failed message about ``invoice`` (``amount`` to pay, and the
        link where they pay it on session when given), once per ``key``; nothing when the customer or
        the invoice's seller is not found."""
        customer_keys = keys.customer(customer_id)
        entity_pk = keys.legal_entity(invoice.legal_entity_id).pk
        found = self._ctx.store.batch_get([(customer_keys.pk, customer_keys.sk), (entity_pk, "ENTITY")])
        customer_item = found.get((customer_keys.pk, customer_keys.sk))
        entity_item = found.get((entity_pk, "ENTITY"))
        if customer_item is None or entity_item is None:
            return
        customer = customer_item.document(Customer)
        context: dict[str, Any] = {
            "customer_name": customer.name,
            "seller_name": entity_item.document(LegalEntity).name,
            "invoice_number": str(invoice.number),
            "amount": amount,
            "next_attempt": None,
        }
        if action_url is not None:
            context["action_url"] = action_url
        self._ctx.notifications.send(
            message_key=key,
            kind=MessageKind.PAYMENT_FAILED,
            channel=Channel.EMAIL,
            recipient=Recipient.of(
                customer, email_opt_out=customer.email_opt_out, sms_opt_out=customer.sms_opt_out
            ),
            context=context,
        )
