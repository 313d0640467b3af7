"""Which notices an event asks for: the notifications' consumer of the event dispatcher.

A notice's message key makes each message go out once, however often its event is delivered.
"""

from __future__ import annotations

from datetime import date

from chalicelib.events import Event, EventType
from chalicelib.notifications.kinds import MessageKind
from chalicelib.notifications.queue import (
    Notice,
    dunning_letter,
    failed_charge,
    invoice_issued,
    mandate_deleted,
    order_confirmation,
    payment_received,
    subscription_changed,
    subscription_paused,
    subscription_stopped,
)

# The dunning steps that send the customer a letter, and the letter's message kind.
LETTER_ACTIONS = {"reminder": MessageKind.REMINDER, "collection_notice": MessageKind.COLLECTION_NOTICE}


def notices_for(event: Event) -> list[Notice]:  # noqa: PLR0911 - one return per event type
    """The customer's notices that ``event`` calls for (none for most events)."""
    data = event.data
    match event.type:
        case EventType.ORDER_COMPLETED:
            return [order_confirmation(data["order_id"])]
        case EventType.INVOICE_ISSUED if data["document_kind"] == "invoice":
            # Fee documents travel with their reminder; credit notes have no notice of their own yet.
            return [invoice_issued(data["invoice_id"])]
        case EventType.INVOICE_PAID:
            return [payment_received(data["invoice_id"]).with_refs(paid_on=data["paid_on"])]
        case EventType.SUBSCRIPTION_CHANGED:
            effective = date.fromisoformat(data["effective"])
            return [
                subscription_changed(data["subscription_id"], effective, data["plan_id"], data["quantity"])
            ]
        case EventType.SUBSCRIPTION_PAUSED:
            return [subscription_paused(data["subscription_id"], date.fromisoformat(data["start"]))]
        case EventType.SUBSCRIPTION_STOPPED:
            return [subscription_stopped(data["subscription_id"])]
        case EventType.DUNNING_STEP_TAKEN if data.get("action") in LETTER_ACTIONS:
            return [dunning_letter(data["invoice_id"], data["step"], LETTER_ACTIONS[data["action"]])]
        case EventType.PAYMENT_FAILED if data["invoice_id"]:
            return [failed_charge(data["invoice_id"], event.occurred_at.isoformat(), data["method"])]
        case EventType.MANDATE_DELETED:
            return [
                mandate_deleted(data["kid"], data["file_id"], data["customer_id"], data["subscription_ids"])
            ]
    return []
