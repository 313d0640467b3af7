"""The one interface every payment method implements, and the provider-neutral values it speaks in.

A payment agreement is the customer's standing permission (a Vipps agreement, a saved card); a charge
pays one invoice. Providers name their states differently; adapters map them onto the enums here and
keep the provider's own word in ``provider_status`` for logs and support.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from chalicelib.money import Money


class AgreementStatus(StrEnum):
    """Where a payment agreement stands."""

    PENDING = "PENDING"  # waiting for the customer to confirm
    ACTIVE = "ACTIVE"
    STOPPED = "STOPPED"  # by us, or rejected or stopped by the customer; final
    EXPIRED = "EXPIRED"  # never confirmed, or its first payment failed; final


class ChargeStatus(StrEnum):
    """Where one charge stands; transitions may skip states, and every forward jump must be safe."""

    PENDING = "PENDING"  # created, not yet taken
    RESERVED = "RESERVED"  # authorised, waiting for capture
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


class PeriodUnit(StrEnum):
    """The unit of an agreement's billing interval."""

    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


@dataclass(frozen=True)
class InvoiceCharge:
    """What to collect for one invoice: the invoice's id is the provider's de-duplication key, with
    ``attempt`` (a dunning retry of a declined card, from 1) when it is not the invoice's first charge."""

    invoice_id: str
    amount: Money
    description: str
    due: date
    attempt: int = 0


@dataclass(frozen=True)
class AgreementRequest:
    """Everything needed to ask a customer for a payment agreement, with the first invoice to pay."""

    agreement_id: str  # our payment agreement's id
    product_name: str
    price: Money  # the recurring price shown to the customer
    interval_unit: PeriodUnit
    interval_count: int
    first_invoice: InvoiceCharge
    phone_number: str | None = None
    product_description: str | None = None


@dataclass(frozen=True)
class AgreementSetup:
    """A drafted agreement: send the customer to ``confirmation_url``."""

    agreement_ref: str
    confirmation_url: str
    status: AgreementStatus
    first_charge_ref: str | None = None
    client_secret: str | None = None  # for Stripe.js only; never in a URL or a log


@dataclass(frozen=True)
class AgreementState:
    """A fetched agreement."""

    agreement_ref: str
    status: AgreementStatus
    provider_status: str


@dataclass(frozen=True)
class ChargeResult:
    """A created or fetched charge; amounts are integer minor units."""

    charge_ref: str
    status: ChargeStatus
    provider_status: str
    amount: Money | None = None
    captured: Money | None = None
    refunded: Money | None = None
    failure_reason: str | None = None
    decline_code: str | None = None
    customer_action_url: str | None = None  # where the customer pays this charge on session


@dataclass(frozen=True)
class RefundResult:
    """A refund the provider accepted; ``status`` is the charge's status after it."""

    charge_ref: str
    refund_ref: str
    amount: Money
    status: ChargeStatus


class PaymentMethodAdapter(Protocol):
    """One payment provider, seen the same way by billing whatever the method."""

    provider: str

    def set_up_agreement(self, request: AgreementRequest) -> AgreementSetup:
        """Ask the customer for an agreement whose first payment is ``request.first_invoice``."""
        ...

    def take_first_payment(self, agreement_ref: str, invoice: InvoiceCharge) -> ChargeResult:
        """The first invoice's payment, taken when the customer confirms the agreement."""
        ...

    def charge_invoice(self, agreement_ref: str, invoice: InvoiceCharge) -> ChargeResult:
        """Collect ``invoice`` on an active agreement; a repeated call returns the same charge."""
        ...

    def refund(
        self, agreement_ref: str, charge_ref: str, amount: Money, description: str, refund_id: str
    ) -> RefundResult:
        """Pay back all or part of a charge; ``refund_id`` (ours) makes a retry safe."""
        ...

    def agreement_status(self, agreement_ref: str) -> AgreementState:
        """The agreement as the provider sees it now."""
        ...

    def charge_status(self, agreement_ref: str, charge_ref: str) -> ChargeResult:
        """The charge as the provider sees it now."""
        ...

    def cancel_charge(self, agreement_ref: str, charge_ref: str) -> ChargeResult:
        """Withdraw a charge not yet taken."""
        ...

    def cancel_agreement(self, agreement_ref: str) -> AgreementState:
        """Stop the agreement for good; charges not yet taken are withdrawn by the provider."""
        ...
