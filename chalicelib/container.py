"""The process's collaborators, built lazily from settings so that importing a handler stays cheap.

Routes and Lambda handlers ask :func:`get_services` for what they need; tests replace it with
:func:`set_services`. Nothing here holds request state.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

from chalicelib.clock import Clock, StoredClock, SystemClock, local_date, wall_time
from chalicelib.settings import Settings, get_settings

# The function that works test-clock advances (template.yaml): its runner does not wait on its own queue.
CLOCK_FUNCTION = "ClockAdvanceFunction"

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from chalicelib.api.idempotency import IdempotentRequests
    from chalicelib.avtalegiro.wiring import AvtaleGiro
    from chalicelib.billing.credit_notes import CreditNotes
    from chalicelib.billing.drafts import DraftService
    from chalicelib.billing.usage_service import UsageService
    from chalicelib.catalog.service import CatalogService
    from chalicelib.customers.blocks import OrderBlockService
    from chalicelib.customers.fees import FeeService
    from chalicelib.customers.service import CustomerService
    from chalicelib.documents.invoices import InvoiceDocuments
    from chalicelib.dunning.service import Dunning
    from chalicelib.files.inbound import InboundFiles
    from chalicelib.flows.assign_suspense import AssignSuspense
    from chalicelib.flows.card_expiry import CardExpiryService
    from chalicelib.flows.change_subscription import ChangeSubscription
    from chalicelib.flows.events import EventDispatcher
    from chalicelib.flows.import_ocr_file import OcrImports
    from chalicelib.flows.invoice_run import InvoiceRun
    from chalicelib.flows.pause_subscription import PauseSubscription
    from chalicelib.flows.payment_flows import PaymentFlows
    from chalicelib.flows.place_order import PlaceOrder
    from chalicelib.flows.refund_credit import RefundCredit
    from chalicelib.flows.restatements import Restatements
    from chalicelib.flows.stop_subscription import StopSubscription
    from chalicelib.jobs.runner import QueueDrainer, ScheduleRunner
    from chalicelib.jobs.template import Wiring
    from chalicelib.ledger.reports import LedgerReports
    from chalicelib.ledger.service import LedgerService
    from chalicelib.notifications.dispatch import NotificationDispatcher
    from chalicelib.notifications.queue import NotificationQueue
    from chalicelib.notifications.sender import NotificationSender
    from chalicelib.payments.intake import WebhookIntake
    from chalicelib.payments.reading import PaymentRecords
    from chalicelib.payments.stripe_card import StripeCardAdapter
    from chalicelib.payments.vipps import VippsAdapter
    from chalicelib.store.documents import DocumentStore
    from chalicelib.store.events import EventLog
    from chalicelib.store.system import SystemStore
    from chalicelib.subscriptions.access import AccessService
    from chalicelib.subscriptions.service import SubscriptionService
    from chalicelib.system.clock_service import ClockService
    from chalicelib.system.health import HealthService
    from chalicelib.system.heartbeat import HeartbeatService


class Services:
    """Every service of the platform, each built on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One lock per process: the local scheduler thread and the clock route never run jobs at once.
        self.job_lock = threading.Lock()
        from chalicelib.store.base import bind_tables

        bind_tables(settings)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(service, region_name=self.settings.region)  # type: ignore[call-overload]

    @cached_property
    def s3(self) -> S3Client:
        """S3 client (endpoint from ``AWS_ENDPOINT_URL_*`` when local)."""
        client: S3Client = self._client("s3")
        return client

    @cached_property
    def sqs(self) -> SQSClient:
        """SQS client."""
        client: SQSClient = self._client("sqs")
        return client

    @cached_property
    def ses(self) -> Any:
        """SES client (e-mail)."""
        return self._client("ses")

    @cached_property
    def sns(self) -> Any:
        """SNS client (SMS)."""
        return self._client("sns")

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
    def event_dispatcher(self) -> EventDispatcher:
        """The one dispatcher of recorded events to their consumers."""
        from chalicelib.flows.events import EventDispatcher, notification_consumer

        return EventDispatcher([notification_consumer(self.notification_queue)])

    @cached_property
    def event_log(self) -> EventLog:
        """The recorded events, for ``GET /v1/events``."""
        from chalicelib.store.events import EventLog

        return EventLog()

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
    def avtalegiro(self) -> AvtaleGiro:
        """AvtaleGiro mandate imports and the daily claim and deletion files."""
        from chalicelib.avtalegiro.claims import ClaimFiles
        from chalicelib.avtalegiro.deletions import DeletionFiles
        from chalicelib.avtalegiro.mandates import MandateImports
        from chalicelib.avtalegiro.wiring import AvtaleGiro

        bucket = self.settings.documents_bucket
        return AvtaleGiro(
            mandates=MandateImports(self.documents, self.s3, self.clock),
            claims=ClaimFiles(self.documents, self.s3, bucket, self.clock),
            deletions=DeletionFiles(self.documents, self.s3, bucket, self.clock),
        )

    @cached_property
    def dunning(self) -> Dunning:
        """Dunning plans, reminders on demand, failed charges and the daily dunning run."""
        from chalicelib.dunning.handoff import HandoffExporter
        from chalicelib.dunning.run import DunningRun
        from chalicelib.dunning.service import Dunning, DunningService

        service = DunningService(self.documents, self.ledger, self.notifications.deliveries, self.clock)
        exporter = HandoffExporter(self.documents, self.s3, self.settings.documents_bucket)
        run = DunningRun(
            self.documents,
            service.steps,
            self.sqs,
            self.settings.dunning_queue_url,
            exporter,
            access=self.access,
            stops=self.stop_subscription,
        )
        return Dunning(service, run)

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
    def payment_flows(self) -> PaymentFlows:
        """Card and Vipps use cases: set-up, reconciling, charging, retries, refunds, polling, webhooks."""
        from chalicelib.catalog.zones import SellerZones
        from chalicelib.errors import ValidationFailedError
        from chalicelib.flows.payment_context import PaymentContext
        from chalicelib.flows.payment_flows import payment_flows
        from chalicelib.payments.interface import PaymentMethodAdapter
        from chalicelib.values import PaymentMethod

        def adapters(method: PaymentMethod) -> PaymentMethodAdapter:
            if method == PaymentMethod.VIPPS:
                return self.vipps
            if method == PaymentMethod.CARD:
                return self.stripe_cards
            raise ValidationFailedError(f"{method.value} is not paid through a payment provider")

        def failed_charge(invoice_id: str, method: PaymentMethod, reason: str, at: datetime) -> object:
            return self.dunning.service.record_failed_charge(invoice_id, method, reason, at)

        store = self.documents
        context = PaymentContext(
            store, self.ledger, self.notifications, self.clock, adapters, failed_charge, SellerZones(store)
        )
        return payment_flows(context)

    @cached_property
    def card_expiry(self) -> CardExpiryService:
        """The daily card-expiry notices (cards read through the Stripe adapter)."""
        from chalicelib.flows.card_expiry import CardExpiryService

        return CardExpiryService(
            self.documents,
            self.stripe_cards,
            self.notifications,
            self.clock,
            update_url=self.settings.card_update_url,
        )

    @cached_property
    def webhooks(self) -> WebhookIntake:
        """Provider callbacks: verified, recorded once and queued for the payment events worker."""
        from chalicelib.payments.intake import WebhookIntake

        return WebhookIntake(self.documents, self.sqs, self.settings, self.clock)

    @cached_property
    def system_store(self) -> SystemStore:
        """The platform's bookkeeping items."""
        from chalicelib.store.system import SystemStore

        return SystemStore()

    @cached_property
    def stored_clock(self) -> StoredClock:
        """The test clock (not used in production)."""
        return StoredClock(
            store=self.system_store,
            start=self.settings.clock_start,
            start_frozen=self.settings.clock_frozen,
        )

    @cached_property
    def clock(self) -> Clock:
        """The one clock: system time in production, the stored test clock elsewhere."""
        if self.settings.is_production or self.settings.clock_mode == "system":
            return SystemClock()
        return self.stored_clock

    @cached_property
    def wiring(self) -> Wiring:
        """What template.yaml wires to handlers."""
        from chalicelib.jobs.template import load_template, read_wiring

        return read_wiring(load_template(self.settings.template_path), self.settings.stack_name)

    @cached_property
    def drainer(self) -> QueueDrainer:
        """Runs queued work in process."""
        from chalicelib.jobs.runner import QueueDrainer
        from chalicelib.jobs.streams import StreamPump
        from chalicelib.store.transaction import puts_committed

        drainer = QueueDrainer(self.sqs, self.wiring, self.settings.region)
        for stream in self.wiring.streams:
            failures = stream.on_failure_queue_name
            drainer.pumps.append(
                StreamPump(
                    self._client("dynamodbstreams"),
                    self.sqs,
                    stream,
                    self.settings.region,
                    partial(puts_committed, stream.table_name),
                    self.sqs.get_queue_url(QueueName=failures)["QueueUrl"] if failures else None,
                )
            )
        return drainer

    def schedule_runner(self) -> ScheduleRunner:
        """Runs scheduled moments in process."""
        from chalicelib.jobs.runner import ScheduleRunner

        return ScheduleRunner(
            self.wiring, self.drainer, self.settings.region, exclude_from_drain=frozenset({CLOCK_FUNCTION})
        )

    @cached_property
    def clock_service(self) -> ClockService:
        """The test clock's service."""
        from chalicelib.system.clock_service import ClockAdvanceQueue, ClockService

        url = self.settings.clock_queue_url
        queue = ClockAdvanceQueue(self.sqs, url) if url else None
        return ClockService(
            self.stored_clock, self.system_store, self.schedule_runner, self.job_lock, queue=queue
        )

    @cached_property
    def health(self) -> HealthService:
        """Health checks."""
        from chalicelib.store.due import WATCHED_RUNS, earliest_due
        from chalicelib.system.health import HealthService

        return HealthService(
            heartbeats=self.system_store,
            stage=self.settings.stage,
            stale_after=timedelta(seconds=self.settings.heartbeat_stale_seconds),
            wall=wall_time,
            earliest_due=earliest_due,
            business_date=lambda: local_date(self.clock.now()),
            watched_runs=WATCHED_RUNS,
        )

    @cached_property
    def heartbeat(self) -> HeartbeatService:
        """The scheduler heartbeat."""
        from chalicelib.system.heartbeat import HeartbeatService

        return HeartbeatService(writer=self.system_store, wall=wall_time)

    @cached_property
    def inbound_files(self) -> InboundFiles:
        """Arrival records of files dropped in the bucket."""
        from chalicelib.files.inbound import InboundFiles

        return InboundFiles(self.clock)

    @cached_property
    def documents(self) -> DocumentStore:
        """Typed documents in the main table."""
        from chalicelib.store.documents import DocumentStore

        return DocumentStore()

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
    def assign_suspense(self) -> AssignSuspense:
        """Payments in suspense placed on a customer's ledger (and credit moved back to suspense)."""
        from chalicelib.flows.assign_suspense import AssignSuspense

        return AssignSuspense(self.documents, self.ledger, self.clock)

    @cached_property
    def refund_credit(self) -> RefundCredit:
        """Refunds of the credit a customer holds."""
        from chalicelib.flows.refund_credit import RefundCredit

        return RefundCredit(self.documents, self.ledger, self.clock)

    @cached_property
    def ocr_imports(self) -> OcrImports:
        """OCR giro files from the bucket."""
        from chalicelib.flows.import_ocr_file import OcrImports

        return OcrImports(self.documents, self.s3, self.ledger, self.clock)

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
    def stop_subscription(self) -> StopSubscription:
        """Stopping subscriptions, with credit for unused paid time."""
        from chalicelib.flows.stop_subscription import StopSubscription

        return StopSubscription(self.restatements)

    @cached_property
    def usage(self) -> UsageService:
        """Usage reports, counted per billing period."""
        from chalicelib.billing.usage_service import UsageService

        return UsageService(self.documents, self.drafts)

    @cached_property
    def change_subscription(self) -> ChangeSubscription:
        """Plan and quantity changes."""
        from chalicelib.flows.change_subscription import ChangeSubscription

        return ChangeSubscription(self.restatements)

    @cached_property
    def pause_subscription(self) -> PauseSubscription:
        """Pauses and resumes."""
        from chalicelib.flows.pause_subscription import PauseSubscription

        return PauseSubscription(self.restatements)

    @cached_property
    def restatements(self) -> Restatements:
        """The path every change, pause and stop takes to restate invoiced time."""
        from chalicelib.flows.restatements import Restatements

        return Restatements(
            self.documents,
            self.catalog,
            self.credit_notes,
            self.ledger,
            self.drafts,
            self.access,
            self.clock,
        )

    @cached_property
    def invoice_run(self) -> InvoiceRun:
        """The daily invoice run: planner and workers."""
        from chalicelib.flows.invoice_run import InvoiceRun

        return InvoiceRun(
            self.documents,
            self.fees,
            self.sqs,
            self.settings.invoice_run_queue_url,
            self.ledger,
        )

    @cached_property
    def orders(self) -> PlaceOrder:
        """Orders: from an offer to a customer, subscription, agreement, first invoice and draft."""
        from chalicelib.flows.place_order import PlaceOrder

        return PlaceOrder(
            self.documents, self.catalog, self.order_blocks, self.fees, self.access, self.ledger, self.clock
        )

    @cached_property
    def idempotency(self) -> IdempotentRequests:
        """Idempotent POSTs (Powertools idempotency on DynamoDB)."""
        from chalicelib.api.idempotency import IdempotentRequests

        return IdempotentRequests(self.settings.idempotency_table, self.settings.idempotency_ttl_seconds)


_services: Services | None = None
_services_lock = threading.Lock()


def get_services() -> Services:
    """The process's services, built from settings on first call."""
    global _services  # noqa: PLW0603 - the one process-wide container
    if _services is None:
        with _services_lock:
            if _services is None:
                _services = Services(get_settings())
    return _services


def set_services(services: Services | None) -> None:
    """Replace the container (tests, the local stack); None rebuilds it from settings on next use."""
    global _services  # noqa: PLW0603
    _services = services
