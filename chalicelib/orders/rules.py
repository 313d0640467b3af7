"""Rules of an order itself: which payment methods are paid by invoice or through a provider, and where
the first payment stands. Pure."""

from __future__ import annotations

from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.orders.models import OrderPayment, PaymentStatus
from chalicelib.values import PaymentMethod

INVOICE_METHODS = frozenset({PaymentMethod.INVOICE, PaymentMethod.EHF, PaymentMethod.EFAKTURA})
PROVIDER_METHODS = frozenset({PaymentMethod.CARD, PaymentMethod.VIPPS, PaymentMethod.AUTOGIRO})


def invalid_field(field: str, message: str, code: str = "invalid") -> ValidationFailedError:
    """A 422 naming one field of the order."""
    return ValidationFailedError(message, [FieldError(field, message, code)])


def order_payment(method: PaymentMethod, agreement_kid: str | None, invoice_kid: str) -> OrderPayment:
    """Where the order's first payment stands, and the KID the customer pays (or registers) with."""
    if method == PaymentMethod.AVTALEGIRO:
        return OrderPayment(status=PaymentStatus.AWAITING_MANDATE, kid=agreement_kid)
    if method in PROVIDER_METHODS:
        return OrderPayment(status=PaymentStatus.AWAITING_PROVIDER, kid=invoice_kid)
    return OrderPayment(status=PaymentStatus.AWAITING_PAYMENT, kid=invoice_kid)
