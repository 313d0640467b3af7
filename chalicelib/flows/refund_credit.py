"""The flow that pays back credit a customer holds (the payout itself is the back office's): one
transaction takes it off the customer's account and records ``payment.refunded``."""

from __future__ import annotations

from chalicelib.catalog.zones import SellerZones
from chalicelib.clock import Clock
from chalicelib.errors import UnavailableError
from chalicelib.ledger import rules
from chalicelib.ledger.models import Account, IncomingMethod
from chalicelib.ledger.payment_items import invalid
from chalicelib.ledger.posting import payment_refunded_event, posting_writes, stable_id
from chalicelib.ledger.service import LedgerService
from chalicelib.money import Currency
from chalicelib.store.documents import DocumentStore, WriteConflictError
from chalicelib.store.transaction import TRANSACTION_RETRIES


class RefundCredit:
    """Refunds of customer credit."""

    def __init__(
        self, store: DocumentStore, ledger: LedgerService, clock: Clock, zones: SellerZones | None = None
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._clock = clock
        self._zones = zones or SellerZones(store)

    def refund(self, customer_id: str, legal_entity_id: str, currency: Currency, amount: int) -> Account:
        """Pay back credit the customer holds (the payout itself is the back office's)."""
        for _ in TRANSACTION_RETRIES.tries():
            now = self._clock.now()
            stored = self._ledger.book().account(customer_id, legal_entity_id, currency.value)
            try:
                refund_id = stable_id("ref", str(now))
                posting = rules.refund_credit(stored.account, amount, refund_id, now)
            except rules.LedgerRuleError as error:
                raise invalid("amount", str(error), "exceeds_credit") from None
            booked_on = self._zones.business_date(now, legal_entity_id)
            writes = posting_writes(stored, posting, {}, booked_on, now)
            refunded = payment_refunded_event(
                refund_id,
                (customer_id, legal_entity_id, currency.value),
                amount,
                IncomingMethod.MANUAL.value,
                now,
            )
            try:
                self._store.write(writes.creates, writes.replaces, events=[*writes.events, refunded])
            except WriteConflictError:
                continue
            return rules.advance(posting)
        raise UnavailableError("the customer's account kept changing; try again")
