"""What the payment flows share: their collaborators (the store, the ledger, the notices, the clock, the
provider adapters and dunning's failed-charge hook), the reads they all make, and the rules about an
invoice they all apply (which invoice a charge may collect, the charge of an invoice).

Every provider call carries an idempotency key derived from our own ids (the agreement's, the invoice's,
the credit note's), and every state change on our side is a conditional write retried at most
:data:`ATTEMPTS` times from fresh reads, so a retry, a crash between a provider call and our write, a
duplicated or reordered webhook all end in the same state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.zones import SellerZones
from chalicelib.clock import Clock
from chalicelib.errors import NotFoundError
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.service import LedgerService
from chalicelib.money import Money
from chalicelib.notifications.sender import NotificationSender
from chalicelib.orders.models import Order
from chalicelib.payments.interface import ChargeStatus, InvoiceCharge, PaymentMethodAdapter
from chalicelib.payments.reading import PaymentRecords
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore
from chalicelib.values import PaymentMethod

# Conditional writes a flow retries (from fresh reads) before it gives up for this run.
ATTEMPTS = 5
# The charging job looks this many days back, so that a missed day or a provider outage is caught up.
CHARGE_LOOKBACK_DAYS = 7
AUTHENTICATION_REQUIRED = "authentication_required"
PAID_STATES = (ChargeStatus.PAID, ChargeStatus.PARTIALLY_REFUNDED, ChargeStatus.REFUNDED)
INCOMING: dict[str, IncomingMethod] = {"vipps": IncomingMethod.VIPPS, "stripe": IncomingMethod.CARD}

AdapterOf = Callable[[PaymentMethod], PaymentMethodAdapter]
FailedChargeHandler = Callable[[str, PaymentMethod, str, datetime], object]


@dataclass(frozen=True)
class PaymentContext:
    """The payment flows' collaborators; ``adapters`` gives the provider adapter of a method,
    ``failed_charge`` hands a declined charge to dunning, ``zones`` gives a seller's business date."""

    store: DocumentStore
    ledger: LedgerService
    notifications: NotificationSender
    clock: Clock
    adapters: AdapterOf
    failed_charge: FailedChargeHandler
    zones: SellerZones

    @property
    def records(self) -> PaymentRecords:
        """The payment records (set-ups, charges, refunds) in the store."""
        return PaymentRecords(self.store)

    def adapter(self, method: PaymentMethod) -> PaymentMethodAdapter:
        """The provider's adapter of ``method``."""
        return self.adapters(method)

    def invoice(self, invoice_id: str) -> Invoice | None:
        """An invoice, None when there is none."""
        return self.store.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)

    def order(self, order_id: str) -> tuple[Order, int]:
        """An order and its version; :class:`NotFoundError` when there is none."""
        found = self.store.get(keys.order(order_id).pk, "ORDER")
        if found is None or found.doc is None:
            raise NotFoundError(f"no order {order_id}")
        return found.document(Order), int(found.version)

    def versioned(self, pk: str, sk: str) -> DocumentItem:
        """The item at ``pk``/``sk`` with its version; :class:`NotFoundError` when there is none."""
        found = self.store.get(pk, sk)
        if found is None or found.doc is None:
            raise NotFoundError(f"nothing at {pk}/{sk}")
        return found


def invoice_charge(invoice: Invoice) -> InvoiceCharge:
    """What the provider is asked to collect for an invoice: its open amount, by its due date."""
    return InvoiceCharge(
        invoice_id=invoice.id,
        amount=Money(invoice.open_amount, invoice.currency),
        description=f"Faktura {invoice.number}",
        due=invoice.due_date,
    )


def chargeable(invoice: Invoice | None) -> bool:
    """Whether an invoice is issued and still claims something (what a charge may collect)."""
    return (
        invoice is not None
        and invoice.kind == InvoiceKind.INVOICE
        and invoice.status == InvoiceStatus.ISSUED
        and invoice.open_amount > 0
    )
