"""The daily card-expiry job: tell a card payer, once, that the saved card expires this month (the rule
and the card items are :mod:`chalicelib.payments.card_expiry`'s).

Each run keeps the items fresh from two sources, today and the :data:`LOOKBACK_DAYS` days before: the
agreements activated on those days (one query of the due index, ``DUE#card-new``) and the card payments
the ledger recorded (the payments list, gsi1 ``PAYMENTS#<yyyy-mm>``): every activation, paid first
invoice and renewal charged to a card brings its agreement in, and its card is fetched from Stripe at most
once per calendar month. A fetched item leaves ``CARDNEW`` and is listed under its card's expiry month.
Then the run reads this month's partition ``CARDEXP#<yyyy-mm>`` and tells each customer, after fetching
the card once more on that day unless it was fetched that day already (the customer may have replaced it).

**DynamoDB cost per run:** one query per month touched of the payments list, one of the due index
for the look-back's new cards and one of this month's ``CARDEXP`` partition (a page per hundred items
each): three queries on a day with nothing to do, four when the look-back spans two months. Then, per
batch of fifty agreements brought in, a BatchGet of their set-ups and items (after a BatchGet each of the
paid invoices and their subscriptions) and a write per card fetched; per customer told, three reads and a
write besides the message itself.

**Provider cost per card:** at most one ``card_details`` call (one Stripe request, the customer with its
default card expanded; two for a customer without a default card, as a card saved through a SetupIntent
is) per calendar month in which the card's agreement is activated or the card is charged, plus one on the
day its notice goes out unless it was fetched that day; a run makes at most :data:`FETCH_BUDGET` of them
and stops early while Stripe is unavailable (what is left is still listed for the next run, and a new
card for as long as its activation day is within the look-back).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LegalEntity
from chalicelib.clock import Clock
from chalicelib.customers.models import Customer
from chalicelib.ledger.models import Payment
from chalicelib.notifications.render import MessageKind, supported_language
from chalicelib.notifications.sender import Channel, NotificationSender, Recipient, SendStatus
from chalicelib.observability import logger
from chalicelib.payments.card_expiry import (
    LOOKBACK_DAYS,
    CardExpiryRecord,
    CardOnFile,
    CardSource,
    card_keys,
    card_update_url,
    expires,
    expiry_partition,
    listed_month,
    lookback,
    message_key,
    month_of,
    needs_check,
    notice_due,
    record_item,
    renews_after,
)
from chalicelib.payments.errors import ProviderError, ProviderUnavailableError
from chalicelib.payments.records import PROVIDER_OF, PaymentSetup, SetupState, setup_keys
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, WriteConflictError
from chalicelib.store.due import NEW_CARD_RUN, due_entries
from chalicelib.subscriptions.models import Subscription
from chalicelib.values import PaymentMethod

# Card fetches (``card_details`` calls) one run makes at most; the rest waits for the next run.
FETCH_BUDGET = 1000
CARD_PROVIDER = PROVIDER_OF[PaymentMethod.CARD]


@dataclass
class CardExpiryReport:
    """What one run did."""

    run_date: str
    card_payments: int = 0
    new_cards: int = 0  # agreements activated in the look-back whose card was not fetched yet
    cards_fetched: int = 0
    due: int = 0
    sent: list[str] = field(default_factory=list)
    not_sent: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    interrupted: str | None = None


class _BudgetSpentError(Exception):
    """The run fetched as many cards as it may."""


def _chargeable(setup: PaymentSetup) -> bool:
    return (
        setup.method == PaymentMethod.CARD
        and setup.state == SetupState.ACTIVE
        and setup.provider_reference is not None
    )


class CardExpiryService:
    """The daily job: refresh the cards of agreements charged lately, tell this month's expiring ones."""

    def __init__(
        self,
        store: DocumentStore,
        cards: CardSource,
        notifications: NotificationSender,
        clock: Clock,
        *,
        update_url: str,
        budget: int = FETCH_BUDGET,
    ) -> None:
        self._store = store
        self._cards = cards
        self._notifications = notifications
        self._clock = clock
        self._update_url = update_url
        self._budget = budget

    def run(self, today: date) -> CardExpiryReport:
        """Refresh, then tell; a provider outage or the spent budget ends the run early (rerunnable)."""
        report = CardExpiryReport(run_date=today.isoformat())
        outcomes: Counter[str] = Counter()
        try:
            watched = dict.fromkeys(self._charged_agreements(today, report))
            watched.update(dict.fromkeys(self._activated_agreements(today, report)))
            fresh = self._refresh(list(watched), today, report)
            self._tell_all(today, fresh, report, outcomes)
        except ProviderUnavailableError as error:
            report.interrupted = str(error)
            logger.warning("card provider unavailable; the card-expiry run stops for now")
        except _BudgetSpentError:
            report.interrupted = f"fetched {report.cards_fetched} cards, the budget of one run"
            logger.warning("card-expiry run used its budget", extra={"budget": self._budget})
        report.not_sent = dict(sorted(outcomes.items()))
        return report

    # ---- which agreements were activated or charged lately --------------------------------------------

    def _activated_agreements(self, today: date, report: CardExpiryReport) -> list[str]:
        """The card agreements activated in the look-back whose card was not fetched yet: one query of the
        due index (eventually consistent: ``_refresh`` reads each item before fetching)."""
        first = lookback(today)[0]
        agreements = dict.fromkeys(entry.ident for entry in due_entries(NEW_CARD_RUN, today, first))
        report.new_cards = len(agreements)
        return list(agreements)

    def _charged_agreements(self, today: date, report: CardExpiryReport) -> list[str]:
        invoice_ids: dict[str, None] = {}
        for payment in self._payments(today - timedelta(days=LOOKBACK_DAYS), today):
            if payment.source != CARD_PROVIDER:
                continue
            report.card_payments += 1
            for invoice_id in (payment.invoice_id, *(a.invoice_id for a in payment.allocations)):
                if invoice_id:
                    invoice_ids[invoice_id] = None
        if not invoice_ids:
            return []
        invoices = self._store.batch_get((keys.invoice(i).pk, "INVOICE") for i in invoice_ids)
        subscription_ids: dict[str, None] = {}
        for invoice_id in invoice_ids:
            found = invoices.get((keys.invoice(invoice_id).pk, "INVOICE"))
            invoice = found.document(Invoice) if found is not None and found.doc else None
            if (
                invoice is not None
                and invoice.payment_method == PaymentMethod.CARD
                and invoice.subscription_id
            ):
                subscription_ids[invoice.subscription_id] = None
        subscriptions = self._store.batch_get((keys.subscription(s).pk, "SUB") for s in subscription_ids)
        agreements: dict[str, None] = {}
        for subscription_id in subscription_ids:
            found = subscriptions.get((keys.subscription(subscription_id).pk, "SUB"))
            if found is not None and found.doc:
                subscription = found.document(Subscription)
                if subscription.payment_method == PaymentMethod.CARD:
                    agreements[subscription.agreement_id] = None
        return list(agreements)

    @staticmethod
    def _payments(first: date, last: date) -> Iterator[Payment]:
        """The payments recorded from ``first`` to ``last``: one query per month partition (gsi1)."""
        start = first
        while start <= last:
            month_end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
            end = min(last, month_end)
            for item in DocumentItem.gsi1.query(
                keys.payments_month(start),
                DocumentItem.gsi1sk.between(f"{start.isoformat()}#", f"{end.isoformat()}#~"),
            ):
                if item.doc is not None:
                    yield item.document(Payment)
            start = end + timedelta(days=1)

    def _pages(self, pk: str, prefix: str | None = None) -> Iterable[DocumentItem]:
        cursor: str | None = None
        while True:
            page = self._store.query(pk, prefix, index="gsi1", cursor=cursor)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return

    # ---- keeping the cards fresh ------------------------------------------------------------------------

    def _refresh(self, agreement_ids: list[str], today: date, report: CardExpiryReport) -> list[str]:
        """Fetch the card of each agreement not fetched this month; returns those now due this month."""
        due: list[str] = []
        for start in range(0, len(agreement_ids), 50):
            chunk = agreement_ids[start : start + 50]
            found = self._store.batch_get(
                [(setup_keys(a).pk, "SETUP") for a in chunk] + [(card_keys(a).pk, "CARD") for a in chunk]
            )
            for agreement_id in chunk:
                setup_item = found.get((setup_keys(agreement_id).pk, "SETUP"))
                setup = (
                    setup_item.document(PaymentSetup) if setup_item is not None and setup_item.doc else None
                )
                if setup is None or not _chargeable(setup):
                    continue
                stored = found.get((card_keys(agreement_id).pk, "CARD"))
                record = stored.document(CardExpiryRecord) if stored is not None and stored.doc else None
                if record is not None and not needs_check(record.checked_on, today):
                    continue
                assert setup.provider_reference is not None
                try:
                    card = self._fetch(setup.provider_reference, report)
                except ProviderUnavailableError:
                    raise
                except ProviderError as error:
                    self._refused(agreement_id, error, report)
                    continue
                checked = CardExpiryRecord(
                    agreement_id=agreement_id,
                    provider_reference=setup.provider_reference,
                    card=card,
                    checked_on=today,
                    activated_on=record.activated_on if record else None,
                    handled_month=record.handled_month if record else None,
                    outcome=record.outcome if record else None,
                    updated_at=self._clock.now(),
                )
                version = int(stored.version) if record is not None and stored is not None else None
                if self._save(checked, version) and listed_month(checked) == month_of(today):
                    due.append(agreement_id)
        return due

    def _fetch(self, customer_ref: str, report: CardExpiryReport) -> CardOnFile | None:
        if report.cards_fetched >= self._budget:
            raise _BudgetSpentError
        report.cards_fetched += 1
        card = self._cards.card_details(customer_ref)
        if card is None:
            return None
        return CardOnFile(
            payment_method_id=card.payment_method_id,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
        )

    @staticmethod
    def _refused(agreement_id: str, error: ProviderError, report: CardExpiryReport) -> None:
        report.failed.append(agreement_id)
        logger.warning(
            "the card provider refused to describe a card",
            extra={"agreement_id": agreement_id, "error": str(error)},
        )

    def _save(self, record: CardExpiryRecord, version: int | None) -> bool:
        try:
            if version is None:
                self._store.put_new(record_item(record))
            else:
                self._store.write([], [(record_item(record, version), version)])
        except WriteConflictError:
            logger.info("card record changed meanwhile", extra={"agreement_id": record.agreement_id})
            return False
        return True

    # ---- telling the customers ----------------------------------------------------------------------------

    def _tell_all(
        self, today: date, fresh: list[str], report: CardExpiryReport, outcomes: Counter[str]
    ) -> None:
        candidates = dict.fromkeys(fresh)
        for item in self._pages(expiry_partition(month_of(today))):
            if item.gsi1sk:
                candidates[item.gsi1sk] = None
        for agreement_id in candidates:
            outcome = self._tell(agreement_id, today, report)
            if outcome is not None and outcome != SendStatus.SENT.value:
                outcomes[outcome] += 1

    def _tell(self, agreement_id: str, today: date, report: CardExpiryReport) -> str | None:  # noqa: PLR0911
        """Tell one customer whose card expires this month; returns what happened (None: not due)."""
        month = month_of(today)
        card_pk, setup_pk = card_keys(agreement_id).pk, setup_keys(agreement_id).pk
        found = self._store.batch_get([(card_pk, "CARD"), (setup_pk, "SETUP")])
        stored = found.get((card_pk, "CARD"))
        if stored is None or stored.doc is None:
            return None
        record, version = stored.document(CardExpiryRecord), int(stored.version)
        if record.card is None or listed_month(record) != month:
            return None  # told already, or the index entry is older than the item
        report.due += 1
        setup_item = found.get((setup_pk, "SETUP"))
        setup = setup_item.document(PaymentSetup) if setup_item is not None and setup_item.doc else None
        if setup is None or not _chargeable(setup):
            return self._handled(record, version, month, "agreement_ended")
        subscription = self._store.get_document(
            keys.subscription(setup.subscription_id).pk, "SUB", Subscription
        )
        if subscription is None or not renews_after(subscription, record.card):
            return self._handled(record, version, month, "no_renewal")
        if record.checked_on != today:
            try:
                card = self._fetch(record.provider_reference, report)
            except ProviderUnavailableError:
                raise
            except ProviderError as error:
                self._refused(agreement_id, error, report)
                return "refused"
            record = record.model_copy(
                update={"card": card, "checked_on": today, "updated_at": self._clock.now()}
            )
            if card is None or not notice_due(card, today):
                self._save(record, version)  # listed under the new card's month, or no longer
                return "card_replaced" if card is not None else "no_card"
        return self._notify(record, version, month, (setup.customer_id, subscription.legal_entity_id), report)

    def _notify(
        self,
        record: CardExpiryRecord,
        version: int,
        month: str,
        owner: tuple[str, str],
        report: CardExpiryReport,
    ) -> str:
        """Send the notice about ``record``'s card, expiring in ``month``, to its customer (``owner``: the
        customer's and the seller's ids); returns the outcome."""
        assert record.card is not None
        agreement_id, (customer_id, seller_id) = record.agreement_id, owner
        customer_keys = keys.customer(customer_id)
        entity_pk = keys.legal_entity(seller_id).pk
        people = self._store.batch_get([(customer_keys.pk, customer_keys.sk), (entity_pk, "ENTITY")])
        customer_item = people.get((customer_keys.pk, customer_keys.sk))
        entity_item = people.get((entity_pk, "ENTITY"))
        if customer_item is None or entity_item is None or not customer_item.doc or not entity_item.doc:
            return self._handled(record, version, month, "no_customer")
        customer = customer_item.document(Customer)
        key = message_key(agreement_id, month)
        try:
            result = self._notifications.send(
                message_key=key,
                kind=MessageKind.CARD_EXPIRING,
                channel=Channel.EMAIL,
                recipient=Recipient.of(
                    customer, email_opt_out=customer.email_opt_out, sms_opt_out=customer.sms_opt_out
                ),
                context={
                    "customer_name": customer.name,
                    "seller_name": entity_item.document(LegalEntity).name,
                    "card_last4": record.card.last4,
                    "expires": expires(record.card),
                    "update_url": card_update_url(
                        self._update_url,
                        agreement_id=agreement_id,
                        customer_id=customer.id,
                        language=supported_language(customer.language),
                    ),
                },
            )
        except Exception:
            # One refused message (an address SES will not take) must not hold up the others; the card
            # stays listed and the next run tries again.
            logger.exception("card expiry notice not sent", extra={"agreement_id": agreement_id})
            return "send_failed"
        if result.status == SendStatus.SENT:
            report.sent.append(key)
            logger.info("card expiry notice sent", extra={"agreement_id": agreement_id, "month": month})
        return self._handled(record, version, month, result.status.value)

    def _handled(self, record: CardExpiryRecord, version: int, month: str, outcome: str) -> str:
        """Record that this month's notice is decided (sent, or why not): the item leaves the list."""
        done = record.model_copy(
            update={"handled_month": month, "outcome": outcome, "updated_at": self._clock.now()}
        )
        self._save(done, version)
        return outcome
