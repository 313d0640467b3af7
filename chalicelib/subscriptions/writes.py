"""How a subscription is stored: its document, its customer listing, and its place in the renewal index
(and in the due index, where the invoice run's planner finds the days it has work on)."""

from __future__ import annotations

import zlib
from datetime import date

from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, Keys, document_item
from chalicelib.store.due import INVOICE_RUN, due_entry
from chalicelib.subscriptions.models import Subscription, SubscriptionStatus

RENEWAL_SHARDS = 16


def renewal_shard(subscription_id: str) -> int:
    """The shard of the renewal index a subscription is in (stable: CRC32 of its id)."""
    return zlib.crc32(subscription_id.encode()) % RENEWAL_SHARDS


def renewal_partition(day: str, shard: int) -> str:
    """The renewal index partition for invoices due to be issued on ``day`` in ``shard``."""
    return f"RENEW#{day}#{shard:02d}"


def renewal_index_day(subscription: Subscription) -> date | None:
    """The day the invoice run next has work on the subscription: its next invoice's date while it runs;
    once stopped, its end date (the run ends it then) or its final invoice's day (usage in arrears, never
    before the end); once ended, the final invoice's day until that is issued; then none."""
    if subscription.status == SubscriptionStatus.STOPPED:
        return subscription.final_invoice_on or subscription.ends_on
    if subscription.status == SubscriptionStatus.ENDED:
        return subscription.final_invoice_on
    return subscription.next_invoice_date


def end_due(subscription: Subscription, day: date) -> bool:
    """Whether a stopped subscription's end date has come by ``day``: it ends (status ``ended``)."""
    return (
        subscription.status == SubscriptionStatus.STOPPED
        and subscription.ends_on is not None
        and subscription.ends_on <= day
    )


def ended(subscription: Subscription) -> Subscription:
    """``subscription`` once its stop took effect."""
    return subscription.model_copy(update={"status": SubscriptionStatus.ENDED})


def subscription_item(subscription: Subscription, version: int = 1) -> DocumentItem:
    """The stored item: listed under the customer, and in the renewal index on the day the invoice run
    has work on it (:func:`renewal_index_day`)."""
    base = keys.subscription(subscription.id, subscription.customer_id, subscription.created_at)
    day = renewal_index_day(subscription)
    shard = renewal_shard(subscription.id)
    gsi2 = (renewal_partition(day.isoformat(), shard), subscription.id) if day else None
    gsi3 = due_entry(INVOICE_RUN, day, shard, subscription.id) if day else None
    return document_item(
        "subscription",
        Keys(base.pk, base.sk, gsi1=base.gsi1, gsi2=gsi2, gsi3=gsi3),
        subscription,
        status=subscription.status,
        version=version,
    )
