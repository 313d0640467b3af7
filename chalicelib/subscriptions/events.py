"""The events of a subscription's life and of its access, built for the transaction of their change.

Each builder takes the change as it is written, so the event says what the transaction did; the change's
own conditions make it commit once (a retry finds it made and writes nothing), and its events with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from chalicelib.events import Event, EventType, new_event
from chalicelib.store.documents import DocumentItem
from chalicelib.subscriptions.models import AccessGrant, Subscription


def subscription_changed(
    subscription: Subscription,
    effective: date,
    plan_id: str,
    quantity: int,
    previous: tuple[str, int],
    now: datetime,
) -> Event:
    """``subscription.changed``: the plan and/or quantity change from ``effective`` (``previous`` is the
    plan and quantity before)."""
    return new_event(
        EventType.SUBSCRIPTION_CHANGED,
        subscription.legal_entity_id,
        now,
        {
            "subscription_id": subscription.id,
            "customer_id": subscription.customer_id,
            "plan_id": plan_id,
            "quantity": quantity,
            "effective": effective,
            "previous_plan_id": previous[0],
            "previous_quantity": previous[1],
        },
    )


def subscription_paused(subscription: Subscription, start: date, until: date | None, now: datetime) -> Event:
    """``subscription.paused``: from ``start`` until ``until`` (exclusive; open when None)."""
    return new_event(
        EventType.SUBSCRIPTION_PAUSED,
        subscription.legal_entity_id,
        now,
        {
            "subscription_id": subscription.id,
            "customer_id": subscription.customer_id,
            "start": start,
            "end": until,
        },
    )


def subscription_resumed(subscription: Subscription, resumed_on: date, now: datetime) -> Event:
    """``subscription.resumed``: the pause ends, the subscription runs again from ``resumed_on``."""
    return new_event(
        EventType.SUBSCRIPTION_RESUMED,
        subscription.legal_entity_id,
        now,
        {
            "subscription_id": subscription.id,
            "customer_id": subscription.customer_id,
            "resumed_on": resumed_on,
        },
    )


def subscription_stopped(stopped: Subscription, now: datetime) -> Event:
    """``subscription.stopped``: a stop was ordered; ``stopped`` carries its end date and reason."""
    if stopped.ends_on is None:
        raise ValueError("a stopped subscription has an end date")
    return new_event(
        EventType.SUBSCRIPTION_STOPPED,
        stopped.legal_entity_id,
        now,
        {
            "subscription_id": stopped.id,
            "customer_id": stopped.customer_id,
            "end": stopped.ends_on,
            "reason": stopped.stop_reason,
        },
    )


def subscription_ended(ended: Subscription, now: datetime) -> Event:
    """``subscription.ended``: the stop took effect (its end date has come)."""
    if ended.ends_on is None:
        raise ValueError("an ended subscription has an end date")
    return new_event(
        EventType.SUBSCRIPTION_ENDED,
        ended.legal_entity_id,
        now,
        {
            "subscription_id": ended.id,
            "customer_id": ended.customer_id,
            "ended_on": ended.ends_on,
            "reason": ended.stop_reason,
        },
    )


def access_granted(
    subscription_id: str,
    customer_id: str,
    legal_entity_id: str,
    effective: date,
    product_ids: Sequence[str],
    now: datetime,
) -> Event:
    """``access.granted`` by a payment: access to ``product_ids`` for the paid period, which starts on
    ``effective``."""
    return new_event(
        EventType.ACCESS_GRANTED,
        legal_entity_id,
        now,
        {
            "subscription_id": subscription_id,
            "customer_id": customer_id,
            "product_ids": list(product_ids),
            "effective": effective,
            "reason": "payment",
        },
    )


def access_revoked(
    subscription: Subscription, product_ids: Sequence[str], effective: date, reason: str, now: datetime
) -> Event:
    """``access.revoked``: access to ``product_ids`` ends on ``effective`` (the first day without it)."""
    return new_event(
        EventType.ACCESS_REVOKED,
        subscription.legal_entity_id,
        now,
        {
            "subscription_id": subscription.id,
            "customer_id": subscription.customer_id,
            "product_ids": list(product_ids),
            "effective": effective,
            "reason": reason,
        },
    )


def grants_of(writes: Sequence[tuple[DocumentItem, int]] | Sequence[DocumentItem]) -> list[AccessGrant]:
    """The access items ``writes`` (creates, or replaces with their versions) store."""
    items = [write[0] if isinstance(write, tuple) else write for write in writes]
    return [item.document(AccessGrant) for item in items]
