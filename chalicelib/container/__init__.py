"""The process's collaborators, built lazily from settings so that importing a handler stays cheap.

Routes and Lambda handlers ask :func:`get_services` for what they need; tests replace it with
:func:`set_services`. Nothing here holds request state.
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.container.capabilities import CapabilityServices
from chalicelib.container.platform import CLOCK_FUNCTION
from chalicelib.settings import get_settings

__all__ = ["CLOCK_FUNCTION", "Services", "get_services", "set_services"]

if TYPE_CHECKING:
    from chalicelib.avtalegiro.wiring import AvtaleGiro
    from chalicelib.dunning.service import Dunning
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


class Services(CapabilityServices):
    """Every service of the platform: the flows here, the capabilities and the platform below, each built on
    first use."""

    @cached_property
    def event_dispatcher(self) -> EventDispatcher:
        """The one dispatcher of recorded events to their consumers."""
        from chalicelib.flows.events import EventDispatcher, notification_consumer

        return EventDispatcher([notification_consumer(self.notification_queue)])

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
    def stop_subscription(self) -> StopSubscription:
        """Stopping subscriptions, with credit for unused paid time."""
        from chalicelib.flows.stop_subscription import StopSubscription

        return StopSubscription(self.restatements)

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
