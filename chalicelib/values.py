"""Value types every layer shares: the base of stored documents, how a customer pays, a postal address.

They belong to no capability: invoices, subscriptions, orders, customers, ledgers and payment records all
carry them, so they live in the kernel beside money, periods and the clock.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Document(BaseModel):
    """Base of stored documents: immutable values, validated on the way in and out."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PaymentMethod(StrEnum):
    """How a customer pays (API.md)."""

    CARD = "card"
    VIPPS = "vipps"
    AVTALEGIRO = "avtalegiro"
    EFAKTURA = "efaktura"
    AUTOGIRO = "autogiro"
    INVOICE = "invoice"
    EHF = "ehf"


class Address(Document):
    """A postal address."""

    line1: str
    line2: str | None = None
    postal_code: str
    city: str
    country: str = "NO"
