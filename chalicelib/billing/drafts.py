"""Drafts of next invoices, kept up to date: rebuilt after every change to a subscription, its plan (price
changes, fanned out through SQS a page of subscriptions at a time) or its customer's pending fees.

Pending fees ride on the customer's earliest draft, so each fee is invoiced exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from chalicelib.billing.drafting import Seller, build_draft
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.catalog.models import Plan, Product
from chalicelib.catalog.plans import MissingPlanError, load_plan_chain, load_products
from chalicelib.catalog.service import CatalogService
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE
from chalicelib.clock import Clock
from chalicelib.customers.fees import FeeService
from chalicelib.customers.models import Fee
from chalicelib.errors import NotFoundError
from chalicelib.settings import Settings
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    WriteConflictError,
    decode_cursor,
    encode_cursor,
)
from chalicelib.subscriptions.models import Subscription, SubscriptionStatus
from chalicelib.subscriptions.timeline import billing_periods
from chalicelib.subscriptions.writes import subscription_item

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

PLAN_PAGE = 50
RETRIES = 5
LIVE = (SubscriptionStatus.PENDING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAUSED)


class DraftService:
    """Builds and stores the draft of each live subscription's next invoice."""

    def __init__(
        self,
        store: DocumentStore,
        catalog: CatalogService,
        fees: FeeService,
        clock: Clock,
        sqs: SQSClient,
        settings: Settings,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._fees = fees
        self._clock = clock
        self._sqs = sqs
        self._settings = settings

    def load_plans(self, plan_ids: Iterable[str]) -> dict[str, Plan]:
        """The plans named and every plan they hand over to."""
        try:
            return load_plan_chain(self._store, plan_ids)
        except MissingPlanError as error:
            raise NotFoundError(f"plan(s) {error} no longer exist") from None

    def _products(self, plans: dict[str, Plan]) -> dict[str, Product]:
        return load_products(self._store, plans.values())

    def _live_subscriptions(self, customer_id: str) -> list[Subscription]:
        subscriptions: list[Subscription] = []
        cursor: str | None = None
        while True:
            page = self._store.page(f"CUSTOMER#{customer_id}", Subscription, 100, cursor, prefix="SUB#")
            subscriptions.extend(s for s in page.items if s.status in LIVE)
            if page.next_cursor is None:
                return subscriptions
            cursor = page.next_cursor

    def rebuild(self, subscription_id: str) -> Invoice | None:
        """Rebuild one subscription's draft; retried when a concurrent change wins the race."""
        for _ in range(RETRIES):
            try:
                return self._rebuild_once(subscription_id)
            except WriteConflictError:
                continue
        return self._rebuild_once(subscription_id)

    def _rebuild_once(self, subscription_id: str) -> Invoice | None:
        now = self._clock.now()
        key = keys.subscription(subscription_id)
        item = self._store.get(key.pk, key.sk)
        if item is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        subscription = item.document(Subscription)
        if subscription.status not in LIVE:
            return None
        plans = self.load_plans(phase.plan_id for phase in subscription.phases)
        products = self._products(plans)
        entity = self._catalog.legal_entity(subscription.legal_entity_id)
        following = next(
            (
                bp
                for bp in billing_periods(subscription.phases, plans)
                if bp.period.start >= subscription.invoiced_period.end
            ),
            None,
        )
        if following is None:
            return None
        fees_with_versions = self._fees_for(subscription, plans)
        draft = build_draft(
            Seller(entity, DEFAULT_VAT_TABLE),
            subscription,
            following,
            products,
            [fee for fee, _ in fees_with_versions],
            now,
        )
        existing = self._store.get(keys.invoice(draft.id).pk, "INVOICE")
        if existing is not None and existing.status != InvoiceStatus.DRAFT:
            return existing.document(Invoice)  # that period is already issued: nothing to draft
        # A draft whose issue date has passed (rebuilt late by a change) is filed for tomorrow's run.
        updated = subscription.model_copy(
            update={
                "next_invoice_id": draft.id,
                "next_invoice_date": renewal_index_date(draft, entity.business_date(now)),
            }
        )
        draft_item = document_item_for(draft)
        creates: list[DocumentItem] = []
        replaces: list[tuple[DocumentItem, int]] = [
            (subscription_item(updated, int(item.version)), int(item.version))
        ]
        if existing is None:
            creates.append(draft_item)
        else:
            draft_item.version = int(existing.version)
            replaces.append((draft_item, int(existing.version)))
        stale = subscription.next_invoice_id
        deletes = []
        if stale and stale != draft.id:
            old = self._store.get(keys.invoice(stale).pk, "INVOICE")
            if old is not None and old.status == InvoiceStatus.DRAFT:
                deletes.append(old)
        self._store.write(creates, replaces, deletes=deletes)
        return draft

    def _fees_for(self, subscription: Subscription, plans: dict[str, Plan]) -> list[tuple[Fee, int]]:
        pending = self._fees.pending_with_versions(subscription.customer_id)
        if not pending:
            return []
        earliest = min(
            self._live_subscriptions(subscription.customer_id),
            key=lambda s: (s.next_invoice_date or s.invoiced_period.end, s.id),
            default=subscription,
        )
        if earliest.id != subscription.id:
            return []
        currency = plans[subscription.phases[-1].plan_id].currency
        return [(fee, version) for fee, version in pending if fee.currency == currency]

    def customer_changed(self, customer_id: str) -> None:
        """Rebuild every live draft of a customer (after a fee, or a change of details)."""
        for subscription in self._live_subscriptions(customer_id):
            self.rebuild(subscription.id)

    def plan_changed(self, plan_id: str) -> None:
        """Queue the rebuild of every draft on a plan; workers take it a page at a time."""
        self._enqueue(plan_id, None)

    def _enqueue(self, plan_id: str, cursor: str | None) -> None:
        self._sqs.send_message(
            QueueUrl=self._settings.draft_rebuild_queue_url,
            MessageBody=json.dumps({"plan_id": plan_id, "cursor": cursor}),
        )

    def rebuild_plan_page(self, plan_id: str, cursor: str | None) -> str | None:
        """Rebuild one page of a plan's subscriptions' drafts and queue the next page; returns its cursor."""
        from chalicelib.store.documents import DocumentItem as Item

        start = decode_cursor(cursor, ())
        results = Item.query(
            f"PLAN#{plan_id}",
            Item.sk.startswith("SUB#"),
            limit=PLAN_PAGE,
            last_evaluated_key=start,
            consistent_read=True,
        )
        for member in results:
            self.rebuild(member.sk.removeprefix("SUB#"))
        next_cursor = encode_cursor(results.last_evaluated_key)
        if next_cursor:
            self._enqueue(plan_id, next_cursor)
        return next_cursor


def renewal_index_date(draft: Invoice, today: date) -> date:
    """The day the invoice run picks a draft up: its invoice date, but never before tomorrow (today's run
    may be over; a draft already late is issued by the next run)."""
    return max(draft.invoice_date, today + timedelta(days=1))


def document_item_for(invoice: Invoice) -> DocumentItem:
    """The stored item of an invoice or draft, listed under its customer and findable by number."""
    from chalicelib.store.documents import document_item

    number_key = keys.invoice_number_key(invoice.legal_entity_id, invoice.number) if invoice.number else None
    return document_item(
        "invoice",
        keys.invoice(invoice.id, invoice.customer_id, invoice.invoice_date, number_key),
        invoice,
        status=invoice.status,
    )
