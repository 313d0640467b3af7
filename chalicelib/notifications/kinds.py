"""The kinds of message Abo sends to customers (light: producers import it without the templates)."""

from __future__ import annotations

from enum import StrEnum


class MessageKind(StrEnum):
    """Every message Abo sends to customers."""

    ORDER_CONFIRMATION = "order_confirmation"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_FAILED = "payment_failed"
    REMINDER = "reminder"
    COLLECTION_NOTICE = "collection_notice"
    SUBSCRIPTION_CHANGED = "subscription_changed"
    SUBSCRIPTION_PAUSED = "subscription_paused"
    SUBSCRIPTION_STOPPED = "subscription_stopped"
    CARD_EXPIRING = "card_expiring"
    MANDATE_DELETED = "mandate_deleted"
