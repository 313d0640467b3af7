"""Orders as requested and as stored."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from chalicelib.customers.models import CustomerType
from chalicelib.values import Address, Document, PaymentMethod


class CustomerDetails(Document):
    """Who orders, as given in the order (normalised before it is stored)."""

    type: CustomerType
    name: str
    email: str
    phone: str | None = None
    address: Address | None = None
    org_number: str | None = None
    language: str = "nb"


class OrderRequest(Document):
    """An order for an offer."""

    offer_id: str
    payment_method: PaymentMethod
    quantity: int = 1
    start_date: date | None = None
    customer: CustomerDetails
    channel: str | None = None


class PaymentStatus(StrEnum):
    """Where the order's first payment stands. Never 'paid' until the money has been seen."""

    AWAITING_PAYMENT = "awaiting_payment"
    AWAITING_MANDATE = "awaiting_mandate"
    AWAITING_PROVIDER = "awaiting_provider"


class OrderPayment(Document):
    """The order's payment: status, where to send the customer, the KID to pay or register with."""

    status: PaymentStatus
    redirect_url: str | None = None
    kid: str | None = None


class Order(Document):
    """A placed order and everything it created."""

    id: str
    offer_id: str
    customer_id: str
    subscription_id: str
    invoice_id: str
    agreement_id: str
    payment_method: PaymentMethod
    payment: OrderPayment
    channel: str | None = None
    new_customer: bool
    created_at: datetime
