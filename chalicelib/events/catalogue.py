"""The event catalogue: every event type and the JSON schema of its ``data``.

Each type's ``data`` is a pydantic model here; :func:`validate_data` checks a producer's data against it
and gives the JSON form that is stored, listed and (later) sent by webhooks. ``docs/events.md`` and the
OpenAPI document show the schemas generated from these models (:func:`data_schemas`); a contract test keeps
them equal. Adding a field is compatible; renaming or removing one is a new event type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    """Dotted event types: ``<what>.<what happened to it>``."""

    ORDER_COMPLETED = "order.completed"
    SUBSCRIPTION_STARTED = "subscription.started"
    SUBSCRIPTION_CHANGED = "subscription.changed"
    SUBSCRIPTION_PAUSED = "subscription.paused"
    SUBSCRIPTION_RESUMED = "subscription.resumed"
    SUBSCRIPTION_STOPPED = "subscription.stopped"
    SUBSCRIPTION_ENDED = "subscription.ended"
    INVOICE_ISSUED = "invoice.issued"
    INVOICE_PAID = "invoice.paid"
    INVOICE_CREDITED = "invoice.credited"
    INVOICE_OVERDUE = "invoice.overdue"
    PAYMENT_RECEIVED = "payment.received"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REFUNDED = "payment.refunded"
    DUNNING_STEP_TAKEN = "dunning.step_taken"
    ACCESS_GRANTED = "access.granted"
    ACCESS_REVOKED = "access.revoked"
    CUSTOMER_UPDATED = "customer.updated"
    MANDATE_DELETED = "mandate.deleted"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Amount(_Data):
    """Money: integer minor units (øre, öre, cent) and an ISO 4217 currency."""

    amount: int
    currency: str = Field(pattern="^[A-Z]{3}$")


class OrderCompleted(_Data):
    """An order was placed and its subscriptions created."""

    order_id: str
    customer_id: str
    subscription_ids: list[str]
    invoice_ids: list[str] = Field(description="The documents the order issued at once (may be empty).")


class SubscriptionStarted(_Data):
    """A subscription was created (by an order or from the back office)."""

    subscription_id: str
    customer_id: str
    plan_id: str
    quantity: int
    start: date
    status: str


class SubscriptionChanged(_Data):
    """The plan or quantity changes from ``effective``."""

    subscription_id: str
    customer_id: str
    plan_id: str
    quantity: int
    effective: date
    previous_plan_id: str
    previous_quantity: int


class SubscriptionPaused(_Data):
    """Delivery and billing pause from ``start`` until ``end`` (open when None)."""

    subscription_id: str
    customer_id: str
    start: date
    end: date | None


class SubscriptionResumed(_Data):
    """A pause ends on ``resumed_on``."""

    subscription_id: str
    customer_id: str
    resumed_on: date


class SubscriptionStopped(_Data):
    """A stop was ordered: the subscription ends on ``end`` (today or at a period's end)."""

    subscription_id: str
    customer_id: str
    end: date
    reason: str | None = None


class SubscriptionEnded(_Data):
    """The subscription's last day has passed (a stop took effect, or dunning ended it)."""

    subscription_id: str
    customer_id: str
    ended_on: date
    reason: str | None = None


class InvoiceIssued(_Data):
    """A numbered document was issued: an invoice, a fee document or a credit note."""

    invoice_id: str
    number: int
    document_kind: Literal["invoice", "fee", "credit_note"]
    customer_id: str
    subscription_id: str | None
    total: Amount
    issue_date: date
    due_date: date | None
    kid: str | None
    payment_method: str | None


class InvoicePaid(_Data):
    """Payments applied to the invoice cover it in full."""

    invoice_id: str
    number: int
    customer_id: str
    paid_on: date
    total: Amount


class InvoiceCredited(_Data):
    """A credit note was issued against the invoice."""

    invoice_id: str
    credit_note_id: str
    customer_id: str
    amount: Amount


class InvoiceOverdue(_Data):
    """The invoice is unpaid after its due date: dunning took its first step for it (recorded once)."""

    invoice_id: str
    customer_id: str
    due_date: date
    open_amount: Amount


class PaymentReceived(_Data):
    """Money came in and was applied (to invoices, as credit, or held in suspense)."""

    payment_id: str
    customer_id: str | None
    amount: Amount
    method: str
    received_on: date
    invoice_ids: list[str]


class PaymentFailed(_Data):
    """A charge of a card or Vipps agreement was refused or failed."""

    payment_id: str
    customer_id: str
    invoice_id: str | None
    amount: Amount
    method: str
    reason: str


class PaymentRefunded(_Data):
    """Money was paid back to the customer."""

    payment_id: str
    customer_id: str | None
    amount: Amount
    method: str


class DunningStepTaken(_Data):
    """A step of the seller's dunning plan was taken for an unpaid invoice (card retries are not steps)."""

    invoice_id: str
    customer_id: str
    step: str = Field(description="The plan's step key (`reminder-1`, ...), or `manual-<day>`.")
    step_number: int = Field(description="Steps taken on the invoice so far, manual ones counted.")
    action: Literal["reminder", "collection_notice", "hand_off", "suspend", "stop"] | None = Field(
        default=None,
        description="What the step did: a `reminder` or `collection_notice` letter (the customer is sent "
        "it), a `hand_off` to debt collection, a `suspend` of access or a `stop` (absent on events "
        "recorded before the field was added).",
    )
    fee: Amount | None
    fee_invoice_id: str | None


class AccessChanged(_Data):
    """Access to a subscription's products begins (granted) or ends (revoked) on ``effective``."""

    subscription_id: str
    customer_id: str
    product_ids: list[str]
    effective: date
    reason: str


class CustomerUpdated(_Data):
    """The customer's details changed; ``fields`` names which. Recorded once per seller the customer has
    subscriptions with (an event belongs to one seller)."""

    customer_id: str
    fields: list[str]


class MandateDeleted(_Data):
    """An AvtaleGiro mandate was deleted at the bank; its subscriptions pay by invoice again."""

    kid: str
    customer_id: str
    subscription_ids: list[str]
    file_id: str


DATA_MODELS: Mapping[EventType, type[BaseModel]] = {
    EventType.ORDER_COMPLETED: OrderCompleted,
    EventType.SUBSCRIPTION_STARTED: SubscriptionStarted,
    EventType.SUBSCRIPTION_CHANGED: SubscriptionChanged,
    EventType.SUBSCRIPTION_PAUSED: SubscriptionPaused,
    EventType.SUBSCRIPTION_RESUMED: SubscriptionResumed,
    EventType.SUBSCRIPTION_STOPPED: SubscriptionStopped,
    EventType.SUBSCRIPTION_ENDED: SubscriptionEnded,
    EventType.INVOICE_ISSUED: InvoiceIssued,
    EventType.INVOICE_PAID: InvoicePaid,
    EventType.INVOICE_CREDITED: InvoiceCredited,
    EventType.INVOICE_OVERDUE: InvoiceOverdue,
    EventType.PAYMENT_RECEIVED: PaymentReceived,
    EventType.PAYMENT_FAILED: PaymentFailed,
    EventType.PAYMENT_REFUNDED: PaymentRefunded,
    EventType.DUNNING_STEP_TAKEN: DunningStepTaken,
    EventType.ACCESS_GRANTED: AccessChanged,
    EventType.ACCESS_REVOKED: AccessChanged,
    EventType.CUSTOMER_UPDATED: CustomerUpdated,
    EventType.MANDATE_DELETED: MandateDeleted,
}


def validate_data(type_: EventType, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` checked against the schema of ``type_``, in its JSON form (dates as ISO strings); a
    pydantic ValidationError (a ValueError) when it does not fit."""
    return DATA_MODELS[type_].model_validate(dict(data)).model_dump(mode="json")


def data_schemas() -> dict[str, dict[str, Any]]:
    """The JSON schema of each event type's ``data``, by type."""
    return {type_.value: model.model_json_schema() for type_, model in DATA_MODELS.items()}
