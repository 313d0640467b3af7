"""What the payment orchestration keeps in the main table: an agreement's provider set-up, one charge
record per invoice, refunds of credit notes, received webhook events, and the index the charging job
reads. Pure: keys, documents and the items to write; no provider and no AWS call here.

| Item | pk | sk | listed (gsi1) while open |
|---|---|---|---|
| agreement set-up | ``PAYSETUP#<agreement id>`` | ``SETUP`` | ``PAYSETUPS#OPEN`` / ``<created>#<id>`` |
| invoice charge | ``PAYCHARGE#<invoice id>`` | ``CHARGE`` | ``PAYCHARGES#OPEN`` / ``<due>#<invoice>`` |
| credit note refund | ``PAYREFUND#<credit note>`` | ``REFUND`` | ``PAYREFUNDS#OPEN`` / ``<created>#<id>`` |
| provider reference | ``PAYREF#<provider>#<ref>`` | ``LOOKUP`` | (points at a set-up or a charge) |
| charge index | ``PAYDUE#<charge date>`` | ``INVOICE#<invoice id>`` | (points at the invoice) |
| webhook event | ``PAYEVENT#<event id>`` | ``EVENT`` | |
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import Field

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, Keys, document_item, lookup_item
from chalicelib.store.due import CHARGE_RUN, POLL_RUN, due_entry
from chalicelib.values import Document, PaymentMethod

# The methods whose agreements and charges live at a payment provider we drive.
PROVIDER_OF: dict[PaymentMethod, str] = {PaymentMethod.VIPPS: "vipps", PaymentMethod.CARD: "stripe"}
# Vipps charges must be created at least a day before they are due; two days leave a day's slack.
VIPPS_LEAD = timedelta(days=2)


class SetupState(StrEnum):
    """Where an agreement's set-up with its provider stands."""

    NEW = "new"  # the order is stored; the provider has not (yet) answered
    PENDING = "pending"  # the customer was sent to the provider to confirm
    ACTIVE = "active"
    STOPPED = "stopped"  # rejected or stopped (by the user or by us); final
    EXPIRED = "expired"  # never confirmed, or the first payment failed; final
    FAILED = "failed"  # the provider refused the set-up itself (e.g. a currency it does not take)


OPEN_SETUP = (SetupState.NEW, SetupState.PENDING)


class PaymentSetup(Document):
    """An order's payment agreement at its provider: the reference, where the customer confirms it."""

    agreement_id: str
    method: PaymentMethod
    provider: str
    order_id: str
    subscription_id: str
    customer_id: str
    first_invoice_id: str
    state: SetupState = SetupState.NEW
    provider_reference: str | None = None
    redirect_url: str | None = None
    first_charge_ref: str | None = None
    stopped_by: str | None = Field(default=None, description="USER, MERCHANT or the provider's status")
    failure: str | None = None
    created_at: datetime
    updated_at: datetime


class ChargeState(StrEnum):
    """Where one invoice's charge stands on our side."""

    CREATING = "creating"  # marked before the provider call; the call may or may not have happened
    OPEN = "open"  # the provider has it; not yet paid
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_CHARGE = (ChargeState.CREATING, ChargeState.OPEN)


class ChargeRecord(Document):
    """The provider's charge of one invoice (the invoice's id is the provider's de-duplication key). A
    declined card is charged again on dunning's retry days: the record then follows the latest attempt
    (``attempt`` n > 0, the provider's key ``<invoice id>-retry-<n>``, ``charge_ref`` that attempt's)."""

    invoice_id: str
    attempt: int = Field(default=0, description="0: the invoice's charge; n: dunning's n-th card retry")
    agreement_id: str
    method: PaymentMethod
    provider: str
    agreement_ref: str
    charge_ref: str | None = None
    state: ChargeState
    amount: int
    currency: str
    due_date: date
    first: bool = False
    paid_amount: int = 0
    refunded: int = 0
    payment_id: str | None = None
    failure_reason: str | None = None
    decline_code: str | None = None
    customer_action_url: str | None = None
    provider_status: str | None = None
    created_at: datetime
    updated_at: datetime


class RefundState(StrEnum):
    """A credit note's refund through the provider."""

    OPEN = "open"  # decided; the provider may or may not have paid it back yet
    DONE = "done"


class RefundRecord(Document):
    """Money a credit note gives back through the provider that took it."""

    credit_note_id: str
    invoice_id: str
    provider: str
    agreement_ref: str
    charge_ref: str
    amount: int
    currency: str
    state: RefundState = RefundState.OPEN
    refund_ref: str | None = None
    created_at: datetime
    updated_at: datetime


class EventRecord(Document):
    """A webhook received: recorded once by its id, then queued for the worker."""

    event_id: str
    provider: str
    event_type: str
    agreement_ref: str | None = None
    charge_ref: str | None = None
    object_id: str | None = None
    status: str = "received"  # received → queued
    received_at: datetime


# ---- keys -----------------------------------------------------------------------------------------------

# Polling reconciles a charge from the day before it is due.
POLL_HORIZON = timedelta(days=1)
SETUPS_OPEN = "PAYSETUPS#OPEN"
CHARGES_OPEN = "PAYCHARGES#OPEN"
REFUNDS_OPEN = "PAYREFUNDS#OPEN"


def setup_keys(agreement_id: str, open_since: datetime | None = None) -> Keys:
    """An agreement's set-up; listed for the polling job while ``open_since`` is given."""
    listed = (SETUPS_OPEN, f"{open_since.isoformat()}#{agreement_id}") if open_since else None
    return Keys(f"PAYSETUP#{agreement_id}", "SETUP", gsi1=listed)


def charge_keys(invoice_id: str, open_due: date | None = None) -> Keys:
    """An invoice's charge record; listed for the polling job while ``open_due`` is given."""
    listed = (CHARGES_OPEN, f"{open_due.isoformat()}#{invoice_id}") if open_due else None
    return Keys(f"PAYCHARGE#{invoice_id}", "CHARGE", gsi1=listed)


def refund_keys(credit_note_id: str, open_since: datetime | None = None) -> Keys:
    """A credit note's refund; listed while open."""
    listed = (REFUNDS_OPEN, f"{open_since.isoformat()}#{credit_note_id}") if open_since else None
    return Keys(f"PAYREFUND#{credit_note_id}", "REFUND", gsi1=listed)


def reference_lookup(provider: str, reference: str) -> str:
    """The lookup partition of a provider's agreement or charge reference."""
    return f"PAYREF#{provider}#{reference}"


def charge_due_partition(day: date) -> str:
    """The charge index's partition of one charge date."""
    return f"PAYDUE#{day.isoformat()}"


def event_keys(event_id: str) -> Keys:
    """A received webhook event."""
    return Keys(f"PAYEVENT#{event_id}", "EVENT")


# ---- items ----------------------------------------------------------------------------------------------


# The kinds of entry in the due index's partitions of the payment jobs (its shard field).
CHARGE_DUE, RETRY_DUE, RETRY_TO_RESUME = 0, 1, 2
SETUP_TO_POLL, CHARGE_TO_POLL, REFUND_TO_POLL = 0, 1, 2


def setup_item(setup: PaymentSetup, version: int = 1) -> DocumentItem:
    """The set-up's item, listed (and in the polling job's due entries) while it is open."""
    listed = setup.created_at if setup.state in OPEN_SETUP else None
    item = document_item(
        "payment_setup", setup_keys(setup.agreement_id, listed), setup, status=setup.state, version=version
    )
    if listed is not None:
        item.gsi3pk, item.gsi3sk = due_entry(POLL_RUN, listed.date(), SETUP_TO_POLL, setup.agreement_id)
    return item


def charge_item(record: ChargeRecord, version: int = 1) -> DocumentItem:
    """The charge record's item, listed while open. In the due index: an open charge for polling from the
    day before it is due; a card retry marked ``creating`` (its provider call may not have happened) for
    the charging job, which finishes it."""
    listed = record.due_date if record.state in OPEN_CHARGE else None
    item = document_item(
        "payment_charge", charge_keys(record.invoice_id, listed), record, status=record.state, version=version
    )
    if record.state == ChargeState.OPEN:
        day = record.due_date - POLL_HORIZON
        item.gsi3pk, item.gsi3sk = due_entry(POLL_RUN, day, CHARGE_TO_POLL, record.invoice_id)
    elif record.state == ChargeState.CREATING and record.attempt > 0:
        item.gsi3pk, item.gsi3sk = due_entry(CHARGE_RUN, record.due_date, RETRY_TO_RESUME, record.invoice_id)
    return item


def refund_item(record: RefundRecord, version: int = 1) -> DocumentItem:
    """The refund record's item, listed (and in the polling job's due entries) while open."""
    listed = record.created_at if record.state == RefundState.OPEN else None
    item = document_item(
        "payment_refund",
        refund_keys(record.credit_note_id, listed),
        record,
        status=record.state,
        version=version,
    )
    if listed is not None:
        item.gsi3pk, item.gsi3sk = due_entry(POLL_RUN, listed.date(), REFUND_TO_POLL, record.credit_note_id)
    return item


def reference_item(provider: str, reference: str, target: Keys) -> DocumentItem:
    """The lookup from a provider's reference to our set-up or charge record."""
    return lookup_item(reference_lookup(provider, reference), target, kind="payment_reference")


def setup_writes(
    method: PaymentMethod,
    *,
    agreement_id: str,
    order_id: str,
    subscription_id: str,
    customer_id: str,
    first_invoice_id: str,
    now: datetime,
) -> list[DocumentItem]:
    """The set-up an order of a provider method starts (state ``new``, listed for the polling job), to
    write in the order's transaction; nothing for other methods."""
    provider = PROVIDER_OF.get(method)
    if provider is None:
        return []
    setup = PaymentSetup(
        agreement_id=agreement_id,
        method=method,
        provider=provider,
        order_id=order_id,
        subscription_id=subscription_id,
        customer_id=customer_id,
        first_invoice_id=first_invoice_id,
        created_at=now,
        updated_at=now,
    )
    return [setup_item(setup)]


def charge_date(invoice: Invoice) -> date:
    """The day the charging job creates an invoice's charge: Vipps two days before it is due (never
    before it is issued), a card on its due date."""
    if invoice.payment_method == PaymentMethod.VIPPS:
        return max(invoice.invoice_date, invoice.due_date - VIPPS_LEAD)
    return max(invoice.invoice_date, invoice.due_date)


def charge_index_writes(invoice: Invoice) -> list[DocumentItem]:
    """The charge-index entry of an issued, open invoice paid by Vipps or card (none for anything else).
    Write it in the transaction that issues the invoice: one item."""
    if (
        invoice.kind != InvoiceKind.INVOICE
        or invoice.payment_method not in PROVIDER_OF
        or invoice.status != InvoiceStatus.ISSUED
        or invoice.open_amount <= 0
    ):
        return []
    entry = lookup_item(
        charge_due_partition(charge_date(invoice)),
        keys.invoice(invoice.id),
        kind="payment_charge_index",
        sk=f"INVOICE#{invoice.id}",
    )
    entry.gsi3pk, entry.gsi3sk = due_entry(CHARGE_RUN, charge_date(invoice), CHARGE_DUE, invoice.id)
    return [entry]
