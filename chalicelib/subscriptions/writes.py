"""How a subscription is stored: its document, its customer listing, and its place in the renewal index
(and in the due index, where the invoice run's planner finds the days it has work on)."""

from __future__ import annotations

import zlib

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


def subscription_item(subscription: Subscription, version: int = 1) -> DocumentItem:
    """The stored item: listed under the customer, and in the renewal index while a draft waits or, once
    stopped or ended, until its final invoice (usage in arrears) is issued."""
    base = keys.subscription(subscription.id, subscription.customer_id, subscription.created_at)
    ended = subscription.status in (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED)
    day = subscription.final_invoice_on if ended else subscription.next_invoice_date
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
