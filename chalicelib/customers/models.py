"""Customers: the person or organisation that pays, and its change history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from chalicelib.catalog.vat import VatCode
from chalicelib.money import Currency
from chalicelib.values import Address, Document


class CustomerType(StrEnum):
    """A person (found by e-mail) or an organisation (found by organisation number)."""

    PERSON = "person"
    ORGANIZATION = "organization"


class Customer(Document):
    """A customer of one or more legal entities."""

    id: str
    number: int
    type: CustomerType
    name: str
    email: str
    phone: str | None = None
    address: Address | None = None
    org_number: str | None = None
    country: str = "NO"
    language: str = "nb"
    email_opt_out: bool = Field(default=False, description="no e-mail notifications")
    sms_opt_out: bool = Field(default=False, description="no SMS notifications")
    created_at: datetime
    updated_at: datetime


class CustomerChange(Document):
    """One change to a customer: which fields went from what to what, when and from where."""

    customer_id: str
    at: datetime
    source: str
    changes: dict[str, dict[str, Any]] = Field(description="field → {from, to}")


class FeeStatus(StrEnum):
    """A fee waits for the customer's next invoice, then is on it."""

    PENDING = "pending"
    INVOICED = "invoiced"


class Fee(Document):
    """An extra charge (invoice fee, paper fee, …) for the customer's next invoice in its currency."""

    id: str
    customer_id: str
    amount: int
    currency: Currency
    text: str
    vat_code: VatCode = VatCode.STANDARD
    status: FeeStatus = FeeStatus.PENDING
    invoice_id: str | None = None
    created_at: datetime


class BlockKind(StrEnum):
    """What an order block matches."""

    CUSTOMER = "customer"
    EMAIL = "email"
    PHONE = "phone"
    ORG_NUMBER = "org_number"


class OrderBlock(Document):
    """A block that stops new orders matching ``kind``/``value`` (normalised)."""

    id: str
    kind: BlockKind
    value: str
    reason: str
    created_at: datetime
