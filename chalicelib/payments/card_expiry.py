"""Telling a card payer, once, that the saved card expires this month: the daily card-expiry job.

**The rule.** A card is valid through the last day of its expiry month, so the first charge that fails is
the first one after that month. The customer of an active card agreement is told by e-mail, in their
language, on the first run on or after the 1st of the card's expiry month (at least 28 days before that
charge), with the link where they replace the card (``Settings.card_update_url``). One message per
agreement and expiry month: its key is ``card-expiring:<agreement id>:<yyyy-mm>``, so a rerun the same
day, the next day or after a crash sends nothing more. Nobody is told when the agreement is no longer
active, when the subscription ends by the end of the expiry month (no renewal would fail), when the card
was replaced meanwhile (it is watched under its own month), or when the customer opted out of e-mail. A
card first seen after its expiry month is not told here: its charge fails and the failed-charge path
sends the customer a link to pay on session.

**Where the expiry comes from, without a scan.** Stripe knows the card; Abo keeps one item per card
agreement, listed on gsi1 under the day the agreement was activated until its card is first fetched, then
under the card's expiry month until the customer has been told about it:

| An agreement's card | pk / sk | listed (gsi1) |
|---|---|---|
| not fetched yet | ``PAYCARD#<agreement id>`` / ``CARD`` | ``CARDNEW#<yyyy-mm-dd>`` / ``<agreement id>`` |
| fetched, not told | ``PAYCARD#<agreement id>`` / ``CARD`` | ``CARDEXP#<yyyy-mm>`` / ``<agreement id>`` |

The transaction that activates a card agreement (``ReconcilePayment._activate``) creates the item, with no
card yet, listed under the business date of the activation (``CARDNEW#<yyyy-mm-dd>``): a card saved
without a payment (a free first invoice confirms a SetupIntent) is watched from the day it is saved, not
from its first charge. The create never overwrites: should the item exist already, the agreement is
activated without it. Agreements activated before the item was written there are brought in by their
first charge, as below.

The daily job that keeps these items fresh and tells the customers is :mod:`chalicelib.flows.card_expiry`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

from chalicelib.clock import local_date
from chalicelib.payments.records import PaymentSetup
from chalicelib.store.documents import DocumentItem, Keys, document_item
from chalicelib.store.due import NEW_CARD_RUN, due_entry
from chalicelib.subscriptions.models import Subscription, SubscriptionStatus
from chalicelib.values import Document, PaymentMethod

if TYPE_CHECKING:
    from chalicelib.payments.stripe_api import SavedCard

# The payments list is read for today and this many days before, so a missed run is caught up.
LOOKBACK_DAYS = 2
KIND = "payment_card"


class CardSource(Protocol):
    """Where the saved card of an agreement is read (the Stripe adapter)."""

    def card_details(self, customer_id: str) -> SavedCard | None:
        """The card the next charge would use; None when there is none."""
        ...


class CardOnFile(Document):
    """What Abo keeps of a saved card: never the number."""

    payment_method_id: str
    brand: str | None = None
    last4: str
    exp_month: int
    exp_year: int


class CardExpiryRecord(Document):
    """One card agreement's card as last fetched, and the expiry month its customer was told about."""

    agreement_id: str
    provider_reference: str
    card: CardOnFile | None = None
    checked_on: date | None = None  # None: not fetched yet (written by the agreement's activation)
    activated_on: date | None = None  # the business date of the agreement's activation, when it wrote this
    handled_month: str | None = None
    outcome: str | None = None
    updated_at: datetime


# ---- the rule (pure) --------------------------------------------------------------------------------------


def month_of(day: date) -> str:
    """``yyyy-mm`` of a day."""
    return f"{day:%Y-%m}"


def expiry_month(card: CardOnFile) -> str:
    """``yyyy-mm`` of the last month the card can be charged."""
    return f"{card.exp_year:04d}-{card.exp_month:02d}"


def expires(card: CardOnFile) -> date:
    """The card's expiry as the template takes it (the 1st of its month, rendered "March 2027")."""
    return date(card.exp_year, card.exp_month, 1)


def first_day_after(card: CardOnFile) -> date:
    """The first day the card can no longer be charged."""
    if card.exp_month == 12:
        return date(card.exp_year + 1, 1, 1)
    return date(card.exp_year, card.exp_month + 1, 1)


def notice_due(card: CardOnFile, today: date) -> bool:
    """True in the card's expiry month: from its 1st the customer is told."""
    return expiry_month(card) == month_of(today)


def needs_check(checked_on: date | None, today: date) -> bool:
    """A card is fetched from the provider at most once per calendar month."""
    return checked_on is None or month_of(checked_on) != month_of(today)


def listed_month(record: CardExpiryRecord) -> str | None:
    """The month a record is listed under: its card's expiry month, until the customer was told."""
    if record.card is None:
        return None
    month = expiry_month(record.card)
    return None if record.handled_month == month else month


def renews_after(subscription: Subscription, card: CardOnFile) -> bool:
    """True when the subscription still has days to charge after the card's expiry month."""
    if subscription.status in (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED):
        return False
    return subscription.ends_on is None or subscription.ends_on > first_day_after(card)


def message_key(agreement_id: str, month: str) -> str:
    """The notice's key: one message per agreement and expiry month."""
    return f"card-expiring:{agreement_id}:{month}"


def card_update_url(template: str, *, agreement_id: str, customer_id: str, language: str) -> str:
    """``Settings.card_update_url`` filled in (each value URL-encoded)."""
    return template.format(
        agreement_id=quote(agreement_id, safe=""),
        customer_id=quote(customer_id, safe=""),
        language=quote(language, safe=""),
    )


# ---- keys and items ---------------------------------------------------------------------------------------


def expiry_partition(month: str) -> str:
    """The gsi1 partition of the cards expiring in ``month`` whose customers were not told yet."""
    return f"CARDEXP#{month}"


def new_card_partition(day: date) -> str:
    """The gsi1 partition of the card agreements activated on ``day`` whose card was not fetched yet."""
    return f"CARDNEW#{day.isoformat()}"


def card_keys(agreement_id: str, listed: str | None = None, *, activated_on: date | None = None) -> Keys:
    """An agreement's card item, listed under ``listed`` (a month) when given, else under the day of the
    agreement's activation when given (its card not fetched yet)."""
    index = None
    due = None
    if listed:
        index = (expiry_partition(listed), agreement_id)
    elif activated_on is not None:
        index = (new_card_partition(activated_on), agreement_id)
        # The job finds the look-back's new cards in one query of the due index, not one per day.
        due = due_entry(NEW_CARD_RUN, activated_on, 0, agreement_id)
    return Keys(f"PAYCARD#{agreement_id}", "CARD", gsi1=index, gsi3=due)


def record_item(record: CardExpiryRecord, version: int = 1) -> DocumentItem:
    """The record's item: listed under the day of its agreement's activation until its card is first
    fetched, then under its card's expiry month until the customer was told."""
    unchecked_since = record.activated_on if record.checked_on is None else None
    index = card_keys(record.agreement_id, listed_month(record), activated_on=unchecked_since)
    return document_item(KIND, index, record, version=version)


def activation_record(setup: PaymentSetup, now: datetime) -> CardExpiryRecord | None:
    """The card item to create in the transaction that activates ``setup``: a card agreement's, with no
    card yet, activated on the business date of ``now``; None for other methods."""
    if setup.method != PaymentMethod.CARD or setup.provider_reference is None:
        return None
    return CardExpiryRecord(
        agreement_id=setup.agreement_id,
        provider_reference=setup.provider_reference,
        activated_on=local_date(now),
        updated_at=now,
    )


def lookback(today: date) -> list[date]:
    """The days a run reads: the :data:`LOOKBACK_DAYS` days before ``today``, then ``today``."""
    return [today - timedelta(days=n) for n in range(LOOKBACK_DAYS, -1, -1)]
