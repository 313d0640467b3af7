"""The capabilities' services, built on the platform's."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.container.platform import PlatformServices

if TYPE_CHECKING:
    from chalicelib.billing.credit_notes import CreditNotes
    from chalicelib.billing.drafts import DraftService
    from chalicelib.billing.usage_service import UsageService
    from chalicelib.catalog.service import CatalogService
    from chalicelib.customers.blocks import OrderBlockService
    from chalicelib.customers.fees import FeeService
    from chalicelib.customers.service import CustomerService
    from chalicelib.documents.invoices import InvoiceDocuments
    from chalicelib.ledger.reports import LedgerReports
    from chalicelib.ledger.service import LedgerService
    from chalicelib.notifications.dispatch import NotificationDispatcher
    from chalicelib.notifications.queue import NotificationQueue
    from chalicelib.notifications.sender import NotificationSender
    from chalicelib.payments.intake import WebhookIntake
    from chalicelib.payments.reading import PaymentRecords
    from chalicelib.payments.stripe_card import StripeCardAdapter
    from chalicelib.payments.vipps import VippsAdapter
    from chalicelib.subscriptions.access import AccessService
    from chalicelib.subscriptions.service import SubscriptionService


class CapabilityServices(PlatformServices):
    """Each capability's services, built on first use."""

    @cached_property
    def notifications(self) -> NotificationSender:
        """Idempotent e-mail and SMS, with a copy in the outbox folder when one is configured."""
        from pathlib import Path

        from chalicelib.notifications.sender import NotificationSender

        folder = self.settings.notification_outbox_dir
        return NotificationSender(
            self.documents,
            self.ses,
            self.sns,
            self.clock,
            from_address=self.settings.notification_from_address,
            outbox=Path(folder) if folder else None,
            sms_sender_id=self.settings.sms_sender_id,
        )

    @cached_property
    def notification_queue(self) -> NotificationQueue:
        """Where the flows enqueue notices after their transactions commit."""
        from chalicelib.notifications.queue import NotificationQueue

        return NotificationQueue(self.sqs, self.settings.notification_queue_url)

    @cached_property
    def notification_dispatcher(self) -> NotificationDispatcher:
        """The notification queue's consumer: reads, renders and sends each notice once."""
        from chalicelib.dunning.letters import DunningMessages
        from chalicelib.notifications.dispatch import NotificationDispatcher

        sources = DunningMessages(self.documents).sources()
        return NotificationDispatcher(
            self.documents, self.notifications, self.clock, self.invoice_documents, sources
        )

    @cached_property
    def stripe_cards(self) -> StripeCardAdapter:
        """Cards through Stripe, with a client of its own for the configured API base."""
        from chalicelib.payments.stripe_card import StripeCardAdapter

        return StripeCardAdapter(self.settings.stripe)

    @cached_property
    def vipps(self) -> VippsAdapter:
        """Vipps Recurring, over HTTP to the configured base URL."""
        from chalicelib.payments.vipps import VippsAdapter
        from chalicelib.payments.vipps_client import VippsClient

        vipps = self.settings.vipps
        return VippsAdapter(VippsClient(vipps, clock=self.clock), vipps, self.clock)

    @cached_property
    def payments(self) -> PaymentRecords:
        """The card and Vipps records: agreements' set-ups, invoices' charges, credit notes' refunds."""
        from chalicelib.payments.reading import PaymentRecords

        return PaymentRecords(self.documents)

    @cached_property
    def webhooks(self) -> WebhookIntake:
        """Provider callbacks: verified, recorded once and queued for the payment events worker."""
        from chalicelib.payments.intake import WebhookIntake

        return WebhookIntake(self.documents, self.sqs, self.settings, self.clock)

    @cached_property
    def catalog(self) -> CatalogService:
        """Legal entities, products, plans, offers."""
        from chalicelib.catalog.service import CatalogService

        return CatalogService(self.documents, self.clock)

    @cached_property
    def customers(self) -> CustomerService:
        """Customers: reading, changing with history, search."""
        from chalicelib.customers.service import CustomerService

        return CustomerService(self.documents, self.clock)

    @cached_property
    def order_blocks(self) -> OrderBlockService:
        """Blocks on new orders."""
        from chalicelib.customers.blocks import OrderBlockService

        return OrderBlockService(self.documents, self.clock)

    @cached_property
    def fees(self) -> FeeService:
        """Fees for customers' next invoices."""
        from chalicelib.customers.fees import FeeService

        return FeeService(self.documents, self.clock)

    @cached_property
    def access(self) -> AccessService:
        """Who may use which product now."""
        from chalicelib.subscriptions.access import AccessService

        return AccessService(self.documents, self.clock)

    @cached_property
    def drafts(self) -> DraftService:
        """Drafts of next invoices, rebuilt after every change."""
        from chalicelib.billing.drafts import DraftService

        return DraftService(self.documents, self.catalog, self.fees, self.clock, self.sqs, self.settings)

    @cached_property
    def subscriptions(self) -> SubscriptionService:
        """Reading subscriptions and invoices."""
        from chalicelib.subscriptions.service import SubscriptionService

        return SubscriptionService(self.documents, self.clock)

    @cached_property
    def ledger(self) -> LedgerService:
        """Customer ledgers, payments, suspense; a paid subscription invoice grants access."""
        from chalicelib.ledger.service import LedgerService
        from chalicelib.subscriptions.on_payment import access_on_payment

        # The payment-received notice comes from the invoice.paid event the payment's transaction records.
        return LedgerService(
            self.documents, self.clock, paid_hooks=[lambda paid: access_on_payment(self.access, paid)]
        )

    @cached_property
    def ledger_reports(self) -> LedgerReports:
        """Customers' ledgers and the incoming payments report."""
        from chalicelib.ledger.reports import LedgerReports

        return LedgerReports(self.documents)

    @cached_property
    def invoice_documents(self) -> InvoiceDocuments:
        """Invoice and credit-note PDFs in the documents bucket."""
        from chalicelib.documents.invoices import InvoiceDocuments

        return InvoiceDocuments(self.documents, self.s3, self.settings.documents_bucket)

    @cached_property
    def credit_notes(self) -> CreditNotes:
        """Credit notes, numbered in the invoice series."""
        from chalicelib.billing.credit_notes import CreditNotes

        return CreditNotes(self.documents, self.ledger, self.clock)

    @cached_property
    def usage(self) -> UsageService:
        """Usage reports, counted per billing period."""
        from chalicelib.billing.usage_service import UsageService

        return UsageService(self.documents, self.drafts)
