"""The invoice run's work items and transactions: what one work item read, and how its renewals are cut
into transactions (see :mod:`chalicelib.flows.invoice_run`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from chalicelib.billing.drafts import document_item_for
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.billing.renewal import Renewal
from chalicelib.catalog.models import LegalEntity, Plan, Product
from chalicelib.customers.models import Fee
from chalicelib.events import Event
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, WriteConflictError
from chalicelib.subscriptions.models import Subscription

TRANSACTION_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
BATCH = 10  # renewals per transaction: up to 9 items each (ledger, AvtaleGiro claim, card/Vipps charge
# index) and their events, plus the counter; a batch over TRANSACTION_ITEMS is halved
PAGE = 48


@dataclass
class ShardReport:
    """What one work item did."""

    day: date
    shard: int
    issued: list[str] = field(default_factory=list)
    skipped: int = 0
    retried_singly: int = 0
    closed: int = 0  # ended subscriptions that left the index with no usage to invoice


@dataclass
class CatalogCache:
    """The catalog documents one work item has read."""

    entities: dict[str, LegalEntity] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    issued_in: str | None = None  # the run's issued partition (where its dunning cases are listed)


@dataclass(frozen=True)
class Close:
    """An ended subscription with no usage left to invoice: it only leaves the renewal index (ending, and
    recording ``subscription.ended``, if it was still stopped)."""

    subscription: Subscription
    version: int
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A subscription due in the run, at the version read, with its draft (if still a draft)."""

    subscription: Subscription
    version: int
    draft_version: int | None
    draft: Invoice | None = None


# A renewal ready to commit: with the candidate it came from and the fees it invoices (with their versions).
Prepared = tuple[Renewal, Candidate, list[tuple[Fee, int]]]


def batches(
    renewals: list[Prepared],
) -> list[list[Prepared]]:
    """Transactions of at most :data:`BATCH` renewals, each customer at most once per transaction (its
    ledger account may be written once per transaction)."""
    cut: list[list[Prepared]] = []
    customers: list[set[str]] = []
    for renewal in renewals:
        if renewal[0].usage:
            cut.append([renewal])  # its counters make the item count open-ended: alone
            customers.append({renewal[1].subscription.customer_id})
            continue
        customer = renewal[1].subscription.customer_id
        for batch, seen in zip(cut, customers, strict=True):
            if len(batch) < BATCH and not batch[0][0].usage and customer not in seen:
                batch.append(renewal)
                seen.add(customer)
                break
        else:
            cut.append([renewal])
            customers.append({customer})
    return cut


def voided(draft_id: str, store: DocumentStore) -> DocumentItem:
    """A stale draft (for another period than the one issued) marked void, so it is not shown as next."""
    draft = store.get_document(keys.invoice(draft_id).pk, "INVOICE", Invoice)
    if draft is None:
        raise WriteConflictError(f"draft {draft_id} vanished", [])
    return document_item_for(draft.model_copy(update={"status": InvoiceStatus.VOID}))
