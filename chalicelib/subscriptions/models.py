"""Subscriptions, their phases (campaign, list price, what follows), payment agreements and access."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from chalicelib.billing.models import DatePeriod, InvoiceLine
from chalicelib.values import Document, PaymentMethod


class SubscriptionStatus(StrEnum):
    """Where a subscription stands. ``pending`` waits for its first payment (card, Vipps); ``stopped`` has a
    stop ordered (it runs until ``ends_on``); ``ended`` is past that end (the invoice run of the end date
    makes it so)."""

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
    """A stretch of a subscription on one plan from ``start``, optionally at a campaign ``price`` instead
    of the plan's list price.

    Periods are cut from ``anchor`` (default: ``start``), so a phase that begins mid-period (a change, a
    resume after a pause) keeps the billing day and its first period is a prorated part. ``periods`` ends
    the phase after that many periods counted from the anchor (None: until the next phase). A ``paused``
    phase is not invoiced and grants no access.
    """

    plan_id: str
    start: date
    periods: int | None = None
    price: int | None = None
    anchor: date | None = None
    quantity: int | None = Field(default=None, description="None: the subscription's quantity")
    paused: bool = False
    source: str = Field(default="order", description="order, campaign, next_plan, change, pause, resume…")

    @property
    def period_anchor(self) -> date:
        """The first day of the phase's period 0."""
        return self.anchor or self.start


class PauseWindow(Document):
    """A pause: not invoiced and no access from ``start`` until ``until`` (exclusive; None: until resumed)."""

    start: date
    until: date | None = None
    following: list[Phase] = Field(
        default_factory=list, description="the phases the pause interrupts, resumed where they stand"
    )


class PlannedCredit(Document):
    """A credit note a change will issue: its id, the invoice it credits and the lines (negative)."""

    credit_note_id: str
    invoice_id: str
    lines: list[InvoiceLine]


class Restatement(Document):
    """What a change, pause or stop does to invoices already issued, decided before any of it is written:
    credit notes first, then one invoice for what is still owed (used days of unpaid periods, the new
    terms for periods already invoiced, a charged early stop). Ids are fixed, so a crash is finished by
    running the rest again."""

    number: int
    credits: list[PlannedCredit]
    invoice_id: str
    lines: list[InvoiceLine]
    period: DatePeriod | None = None
    invoiced_period: DatePeriod


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
    pause: PauseWindow | None = Field(default=None, description="the latest pause, while it is current")
    changes: int = Field(default=0, description="how many changes, pauses and stops have restated invoices")
    pending: Restatement | None = Field(
        default=None, description="a change whose credit notes and invoice are being issued"
    )
    usage_billed_until: date | None = Field(
        default=None,
        description="all usage before this day is invoiced (set by the final invoice): reports for it are "
        "refused",
    )
    final_invoice_on: date | None = Field(
        default=None,
        description="once ended: the day the invoice run issues the final invoice for the usage not invoiced "
        "yet (the end date); None when done, or when its plans charge no usage",
    )
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
