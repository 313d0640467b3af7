"""Recording usage: each report is kept under its idempotency key and added to its period's counter in one
transaction, so a replay, a retry or two concurrent reports are each counted exactly once.

A report for a period already invoiced is refused (409), and so is one for an ended subscription whose
final invoice has been issued; a report after the end has no billing period (422). While the final invoice
of an ended subscription is pending, a report also moves the subscription's version, so that it and the
invoice run's final invoice (which reads the counters, then writes the subscription at the version read)
cannot pass each other: the later of the two fails its condition and sees the other's outcome."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.billing.drafts import DraftService
from chalicelib.billing.usage import UsageCounter, UsageEvent, usage_counter_item
from chalicelib.catalog.zones import SellerZones
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    UnavailableError,
    ValidationFailedError,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, WriteConflictError, document_item
from chalicelib.subscriptions.models import Subscription
from chalicelib.subscriptions.timeline import BillingPeriod, period_containing_day

ATTEMPTS = 20


def _touched(item: DocumentItem) -> tuple[Any, list[Any], Any]:
    """An update that moves ``item``'s version on, conditional on the version read."""
    version = int(item.version)
    target = DocumentItem(item.pk, item.sk)
    return target, [DocumentItem.version.set(version + 1)], DocumentItem.version == version


def _invalid(field: str, message: str, code: str) -> ValidationFailedError:
    return ValidationFailedError(message, [FieldError(field, message, code)])


@dataclass(frozen=True)
class RecordedUsage:
    """A recorded report and its period's total so far."""

    event: UsageEvent
    counter: UsageCounter
    replayed: bool


class UsageService:
    """Records usage reports against subscriptions."""

    def __init__(self, store: DocumentStore, drafts: DraftService, zones: SellerZones | None = None) -> None:
        self._store = store
        self._drafts = drafts
        self._zones = zones or SellerZones(store)

    def record(
        self, key: str, subscription_id: str, metric: str, quantity: int, at: datetime
    ) -> RecordedUsage:
        """Add ``quantity`` of ``metric`` used at ``at`` to its billing period; the same ``key`` again
        returns the first result and adds nothing."""
        for attempt in range(ATTEMPTS):
            try:
                return self._attempt(key, subscription_id, metric, quantity, at)
            except WriteConflictError:
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 5)))
        raise UnavailableError("the usage counter is busy; try again")

    def _attempt(
        self, key: str, subscription_id: str, metric: str, quantity: int, at: datetime
    ) -> RecordedUsage:
        event_keys = keys.usage_event(subscription_id, key)
        existing = self._store.get(event_keys.pk, event_keys.sk)
        if existing is not None:
            return self._replayed(existing, metric, quantity)
        subscription_item = self._store.get(keys.subscription(subscription_id).pk, "SUB")
        if subscription_item is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        subscription = subscription_item.document(Subscription)
        day = self._zones.business_date(at, subscription.legal_entity_id)
        billing_period = self._billing_period(subscription, metric, day)
        counter_keys = keys.usage_counter(subscription_id, billing_period.period.start, metric)
        found = self._store.get(counter_keys.pk, counter_keys.sk)
        counter = (
            found.document(UsageCounter)
            if found is not None
            else UsageCounter(
                subscription_id=subscription_id,
                metric=metric,
                plan_id=billing_period.plan.id,
                period=billing_period.dates,
            )
        )
        if counter.invoice_id is not None:
            period = billing_period.period
            raise ConflictError(
                f"the usage of {period.start.isoformat()}–{period.end.isoformat()} is invoiced already "
                f"({counter.invoice_id}); report it at a later time"
            )
        event = UsageEvent(
            key=key,
            subscription_id=subscription_id,
            metric=metric,
            quantity=quantity,
            at=day,
            period_start=billing_period.period.start,
        )
        added = counter.model_copy(
            update={"quantity": counter.quantity + quantity, "events": counter.events + 1}
        )
        creates: list[DocumentItem] = [document_item("usage_event", event_keys, event)]
        replaces: list[tuple[DocumentItem, int]] = []
        updates: list[tuple[Any, list[Any], Any]] = []
        if found is None:
            creates.append(usage_counter_item(added))
        else:
            version = int(found.version)
            replaces.append((usage_counter_item(added, version), version))
        if subscription.final_invoice_on is not None:
            updates.append(_touched(subscription_item))
        self._store.write(creates, replaces, updates=updates)
        return RecordedUsage(event, added, replayed=False)

    def _replayed(self, existing: DocumentItem, metric: str, quantity: int) -> RecordedUsage:
        """The first result of a report whose idempotency key was seen (refused for another report)."""
        event = existing.document(UsageEvent)
        if (event.metric, event.quantity) != (metric, quantity):
            raise ConflictError("that idempotency key was used for another usage report")
        counter_keys = keys.usage_counter(event.subscription_id, event.period_start, event.metric)
        counter_item = self._store.get(counter_keys.pk, counter_keys.sk)
        assert counter_item is not None
        return RecordedUsage(event, counter_item.document(UsageCounter), replayed=True)

    def _billing_period(self, subscription: Subscription, metric: str, day: date) -> BillingPeriod:
        """The billing period a report of ``metric`` on ``day`` counts in; refused when it has been
        invoiced on the final invoice, when there is none, or when its plan does not charge ``metric``."""
        billed_until = subscription.usage_billed_until
        if billed_until is not None and day < billed_until:
            raise ConflictError(
                f"the usage of this subscription before {billed_until.isoformat()} is invoiced already, "
                "on its final invoice"
            )
        plans = self._drafts.load_plans(p.plan_id for p in subscription.phases)
        billing_period = period_containing_day(subscription.phases, plans, day)
        if billing_period is None or (subscription.ends_on is not None and day >= subscription.ends_on):
            raise _invalid(
                "at",
                "the subscription has no billing period then (not started, paused or ended)",
                "no_period",
            )
        if billing_period.plan.usage_price(metric) is None:
            raise _invalid(
                "metric", f"the plan {billing_period.plan.id} does not charge {metric}", "unknown_metric"
            )
        return billing_period
