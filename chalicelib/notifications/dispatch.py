"""The consumer's side of the notification queue: read what a :class:`Notice` is about, build the
template's context in the customer's language and send it once per message key.

E-mail is the channel; a customer without an e-mail address (or who opted out of e-mail but not of SMS)
gets an SMS when a phone number is known. An invoice paid by ``invoice`` gets its PDF attached to the
e-mail. A notice whose subject is gone (an order or invoice deleted in a test) is dropped with a
``skipped`` result rather than retried forever; so is a deleted AvtaleGiro mandate's notice once none of
the subscriptions it put back on invoice still pays by invoice (a new mandate arrived first).

Dunning's messages (reminders, collection notices, a failed charge) are read by a source the container
wires in (``sources``, by message kind: :class:`chalicelib.dunning.letters.DunningMessages`), which may
also decline a message (a letter whose invoice was paid since its step is skipped with reason ``paid``).
A notice that is skipped, or whose recipient opted out or has no address, has that outcome recorded under
its key (:meth:`~chalicelib.notifications.sender.NotificationSender.record_outcome`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LegalEntity, Plan, Product
from chalicelib.clock import Clock
from chalicelib.customers.models import Customer
from chalicelib.money import Money
from chalicelib.notifications.outbox import Attachment
from chalicelib.notifications.queue import Notice
from chalicelib.notifications.render import MessageKind, supported_language
from chalicelib.notifications.sender import (
    Channel,
    NotificationSender,
    Recipient,
    SendResult,
    SendStatus,
)
from chalicelib.orders.models import Order
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore
from chalicelib.subscriptions.models import Subscription, SubscriptionStatus
from chalicelib.values import Document, PaymentMethod

if TYPE_CHECKING:
    from chalicelib.documents.invoices import InvoiceDocuments


DocT = TypeVar("DocT", bound=Document)
# Reads a message another capability owns: (message key, refs) to the recipient and the template's
# context, or the reason the message is not sent.
ContextSource = Callable[[str, Mapping[str, str]], tuple[Customer, dict[str, Any]] | str]
SKIPPED = "skipped"


class GoneError(LookupError):
    """What the notice is about no longer exists."""


@dataclass(frozen=True)
class Dispatched:
    """What one notice did: the send's result, or None when it was skipped (``reason``)."""

    key: str
    result: SendResult | None
    reason: str | None = None


def channel_for(recipient: Recipient) -> Channel:
    """E-mail, unless the customer can only be reached by SMS."""
    if recipient.email and not recipient.email_opt_out:
        return Channel.EMAIL
    if recipient.phone and not recipient.sms_opt_out:
        return Channel.SMS
    return Channel.EMAIL  # the sender reports the opt-out or the missing address


def product_name(products: list[Product], language: str) -> str:
    """The products' names in ``language`` (their own name where no translation exists), joined."""
    lang = supported_language(language)
    names = [p.translations[lang].name if lang in p.translations else p.name for p in products]
    return " + ".join(names)


def _paid_on(notice: Notice, entity: LegalEntity, now: datetime) -> date:
    """The day a payment was registered, on the seller's calendar (a notice queued before payments carried
    their instant names the day itself)."""
    paid_on = notice.refs.get("paid_on")
    if paid_on:
        return date.fromisoformat(paid_on)
    paid_at = notice.refs.get("paid_at")
    return entity.business_date(datetime.fromisoformat(paid_at) if paid_at else now)


class NotificationDispatcher:
    """Turns notices into sent messages."""

    def __init__(
        self,
        store: DocumentStore,
        sender: NotificationSender,
        clock: Clock,
        invoice_documents: InvoiceDocuments | None = None,
        sources: Mapping[str, ContextSource] | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._clock = clock
        self._pdfs = invoice_documents
        # By message kind; a name that is no message kind fails at wiring, not at the first send.
        self._sources = {MessageKind(kind): source for kind, source in (sources or {}).items()}

    def dispatch(self, notice: Notice) -> Dispatched:
        """Send one notice (at most once per its key); a notice skipped, or not sent for want of an
        address or consent, has its outcome recorded."""
        try:
            customer, context, attachments = self._prepare(notice)
        except GoneError as error:
            self._sender.record_outcome(notice.key, SKIPPED, str(error))
            return Dispatched(notice.key, None, str(error))
        recipient = Recipient.of(
            customer, email_opt_out=customer.email_opt_out, sms_opt_out=customer.sms_opt_out
        )
        channel = channel_for(recipient)
        result = self._sender.send(
            message_key=notice.key,
            kind=notice.kind,
            channel=channel,
            recipient=recipient,
            context=context,
            attachments=attachments if channel is Channel.EMAIL else (),
        )
        if result.status in (SendStatus.OPTED_OUT, SendStatus.NO_ADDRESS):
            self._sender.record_outcome(notice.key, result.status.value)
        return Dispatched(notice.key, result)

    # ---- reading -------------------------------------------------------------------------------------

    def _prepare(self, notice: Notice) -> tuple[Customer, dict[str, Any], list[Attachment]]:
        kind = notice.kind
        source = self._sources.get(kind)
        if source is not None:
            content = source(notice.key, notice.refs)
            if isinstance(content, str):
                raise GoneError(content)
            return content[0], content[1], []
        if kind is MessageKind.ORDER_CONFIRMATION:
            return self._order(notice.refs["order_id"])
        if kind in (MessageKind.INVOICE_ISSUED, MessageKind.PAYMENT_RECEIVED):
            return self._invoice(notice)
        if kind in (
            MessageKind.SUBSCRIPTION_CHANGED,
            MessageKind.SUBSCRIPTION_PAUSED,
            MessageKind.SUBSCRIPTION_STOPPED,
        ):
            return self._subscription(notice)
        if kind is MessageKind.MANDATE_DELETED:
            return self._mandate_deleted(notice)
        raise ValueError(f"{kind} is not sent through the notification queue")

    def _doc(self, pk: str, sk: str, model: type[DocT], what: str) -> DocT:
        found = self._store.get_document(pk, sk, model)
        if found is None:
            raise GoneError(f"{what} is gone")
        return found

    def _people(self, customer_id: str, legal_entity_id: str) -> tuple[Customer, LegalEntity]:
        found = self._store.batch_get(
            [(keys.customer(customer_id).pk, "PROFILE"), (keys.legal_entity(legal_entity_id).pk, "ENTITY")]
        )
        customer = found.get((keys.customer(customer_id).pk, "PROFILE"))
        entity = found.get((keys.legal_entity(legal_entity_id).pk, "ENTITY"))
        if customer is None or customer.doc is None or entity is None or entity.doc is None:
            raise GoneError(f"customer {customer_id} or seller {legal_entity_id} is gone")
        return customer.document(Customer), entity.document(LegalEntity)

    def _products(self, product_ids: list[str]) -> list[Product]:
        found = self._store.batch_get((keys.product(p).pk, "PRODUCT") for p in product_ids)
        items = [found.get((keys.product(p).pk, "PRODUCT")) for p in product_ids]
        return [item.document(Product) for item in items if item is not None and item.doc is not None]

    def _order(self, order_id: str) -> tuple[Customer, dict[str, Any], list[Attachment]]:
        order = self._doc(keys.order(order_id).pk, "ORDER", Order, f"order {order_id}")
        subscription = self._doc(
            keys.subscription(order.subscription_id).pk, "SUB", Subscription, "the order's subscription"
        )
        invoice = self._doc(keys.invoice(order.invoice_id).pk, "INVOICE", Invoice, "the order's invoice")
        customer, entity = self._people(order.customer_id, subscription.legal_entity_id)
        context = {
            "customer_name": customer.name,
            "seller_name": entity.name,
            "order_number": order.id,
            "product_name": product_name(self._products(subscription.product_ids), customer.language),
            "start_date": subscription.start_date,
            "amount": Money(invoice.totals.gross, invoice.currency),
        }
        return customer, context, []

    def _invoice(self, notice: Notice) -> tuple[Customer, dict[str, Any], list[Attachment]]:
        invoice_id = notice.refs["invoice_id"]
        invoice = self._doc(keys.invoice(invoice_id).pk, "INVOICE", Invoice, f"invoice {invoice_id}")
        customer, entity = self._people(invoice.customer_id, invoice.legal_entity_id)
        context: dict[str, Any] = {
            "customer_name": customer.name,
            "seller_name": entity.name,
            "invoice_number": str(invoice.number),
            "amount": Money(invoice.totals.gross, invoice.currency),
        }
        attachments: list[Attachment] = []
        if notice.kind is MessageKind.PAYMENT_RECEIVED:
            context["paid_on"] = _paid_on(notice, entity, self._clock.now())
            return customer, context, attachments
        context.update(due_date=invoice.due_date, kid=invoice.kid, account_number=entity.bank_account)
        by_email = channel_for(Recipient.of(customer, email_opt_out=customer.email_opt_out)) is Channel.EMAIL
        if invoice.payment_method == PaymentMethod.INVOICE and by_email and self._pdfs is not None:
            pdf = self._pdfs.pdf(invoice.id)
            attachments.append(Attachment(pdf.filename, pdf.data))
            context["pdf_attached"] = True
        return customer, context, attachments

    def _subscription(self, notice: Notice) -> tuple[Customer, dict[str, Any], list[Attachment]]:
        subscription_id = notice.refs["subscription_id"]
        subscription = self._doc(
            keys.subscription(subscription_id).pk, "SUB", Subscription, f"subscription {subscription_id}"
        )
        customer, entity = self._people(subscription.customer_id, subscription.legal_entity_id)
        context: dict[str, Any] = {
            "customer_name": customer.name,
            "seller_name": entity.name,
            "product_name": product_name(self._products(subscription.product_ids), customer.language),
        }
        if notice.kind is MessageKind.SUBSCRIPTION_CHANGED:
            effective = date.fromisoformat(notice.refs["effective"])
            plan = self._doc(keys.plan(notice.refs["plan_id"]).pk, "PLAN", Plan, "the new plan")
            context.update(
                effective_date=effective,
                amount=Money(plan.price_on(effective).price * subscription.quantity, plan.currency),
            )
        elif notice.kind is MessageKind.SUBSCRIPTION_PAUSED:
            pause = subscription.pause
            start = notice.key.rsplit(":", 1)[1]
            context.update(
                paused_from=date.fromisoformat(start),
                resumes_on=pause.until if pause is not None else None,
            )
        else:
            if subscription.ends_on is None:
                raise GoneError(f"subscription {subscription_id} is not stopped")
            context["end_date"] = subscription.ends_on - timedelta(days=1)  # the last day with it
        return customer, context, []

    def _mandate_deleted(self, notice: Notice) -> tuple[Customer, dict[str, Any], list[Attachment]]:
        """A deleted AvtaleGiro mandate: the KID and the subscriptions that now pay by invoice with KID."""
        kid = notice.refs["kid"]
        ids = [ident for ident in notice.refs.get("subscription_ids", "").split(",") if ident]
        found = self._store.batch_get((keys.subscription(ident).pk, "SUB") for ident in ids)
        items = [found.get((keys.subscription(ident).pk, "SUB")) for ident in ids]
        on_invoice = [
            subscription
            for subscription in (
                item.document(Subscription) for item in items if item is not None and item.doc is not None
            )
            if subscription.payment_method == PaymentMethod.INVOICE
            and subscription.status not in (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED)
        ]
        if not on_invoice:
            raise GoneError(f"no subscription of KID {kid} pays by invoice any more")
        customer, entity = self._people(notice.refs["customer_id"], on_invoice[0].legal_entity_id)
        product_ids = list(dict.fromkeys(p for subscription in on_invoice for p in subscription.product_ids))
        context = {
            "customer_name": customer.name,
            "seller_name": entity.name,
            "kid": kid,
            "product_name": product_name(self._products(product_ids), customer.language),
        }
        return customer, context, []
