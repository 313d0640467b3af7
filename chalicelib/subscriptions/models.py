"""Subscriptions, their phases (campaign, list price, what follows), payment agreements and access."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from chalicelib.billing.models import DatePeriod
from chalicelib.catalog.models import Document, PaymentMethod


class SubscriptionStatus(StrEnum):
    """Where a subscription stands. ``pending`` waits for its first payment (card, Vipps)."""

    PENDING = "pending"
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    ENDED = "ended"


class StopWhen(StrEnum):
    """When a stop takes effect."""

    NOW = "now"
    PERIOD_END = "period_end"


class Phase(Document):
    """A stretch of a subscription on one plan: from ``start``, for ``periods`` periods (None: until
    changed), optionally at a campaign ``price`` instead of the plan's list price."""

    plan_id: str
    start: date
    periods: int | None = None
    price: int | None = None
    source: str = Field(default="order", description="order, campaign, next_plan, change, …")


class Subscription(Document):
    """A customer's subscription."""

    id: str
    customer_id: str
    customer_number: int = Field(
        description="kept here so renewals make the KID without reading the customer"
    )
    legal_entity_id: str
    offer_id: str
    order_id: str
    product_ids: list[str]
    quantity: int = 1
    status: SubscriptionStatus
    payment_method: PaymentMethod
    agreement_id: str
    currency: str
    language: str = "nb"
    start_date: date
    phases: list[Phase]
    binding_end: date | None = None
    ends_on: date | None = Field(default=None, description="first day without the subscription, once stopped")
    stop_reason: str | None = None
    invoiced_period: DatePeriod = Field(
        description="the latest period invoiced (renewals are invoiced ahead)"
    )
    next_invoice_id: str | None = None
    next_invoice_date: date | None = None
    created_at: datetime


class AgreementStatus(StrEnum):
    """A payment agreement's state."""

    ACTIVE = "active"
    PENDING = "pending"
    PENDING_MANDATE = "pending_mandate"
    STOPPED = "stopped"


class PaymentAgreement(Document):
    """How a customer pays a subscription: the method, its state and the provider's references."""

    id: str
    customer_id: str
    method: PaymentMethod
    status: AgreementStatus
    kid: str | None = None
    provider_reference: str | None = None
    created_at: datetime


class AccessGrant(Document):
    """A customer's access to one product: granted per subscription, each until a date (exclusive)."""

    customer_id: str
    product_id: str
    grants: dict[str, date] = Field(description="subscription id → access until (exclusive)")

    def valid_until(self) -> date | None:
        """The latest day (exclusive) any subscription grants access to."""
        return max(self.grants.values(), default=None)
