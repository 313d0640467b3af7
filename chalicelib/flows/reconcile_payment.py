"""Reconciling a provider agreement and its charges with ours: fetch what the provider says and move our
set-up, agreement, subscription and charge record forward to it. A webhook is only a signal (the worker
fetches the agreement or charge from the provider before acting), and a state only moves forward
(open → paid, failed or cancelled; a failed charge that is paid later still becomes paid).

Each change records its events in its own transaction: a charge that fails ``payment.failed`` with the
charge record's move to ``failed``, a paid charge ``payment.received`` and ``invoice.paid`` with its ledger
payment (:meth:`LedgerService.record_payment`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LegalEntity
from chalicelib.clock import local_date
from chalicelib.events import Event
from chalicelib.flows.payment_context import (
    ATTEMPTS,
    AUTHENTICATION_REQUIRED,
    INCOMING,
    PAID_STATES,
    PaymentContext,
    invoice_charge,
)
from chalicelib.flows.payment_notices import PaymentNotices
from chalicelib.ledger.posting import Book, payment_failed_event
from chalicelib.ledger.recording import HeldWriteConflictError, IncomingPayment
from chalicelib.money import Money
from chalicelib.observability import logger
from chalicelib.payments.card_expiry import activation_record, record_item
from chalicelib.payments.interface import AgreementStatus, ChargeResult, ChargeStatus
from chalicelib.payments.reading import HeldCharge
from chalicelib.payments.records import (
    OPEN_CHARGE,
    ChargeRecord,
    ChargeState,
    PaymentSetup,
    SetupState,
    charge_item,
    setup_item,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, WriteConflictError, document_item
from chalicelib.subscriptions.models import AgreementStatus as OurAgreementStatus
from chalicelib.subscriptions.models import PaymentAgreement, Subscription, SubscriptionStatus
from chalicelib.subscriptions.writes import subscription_item

_CONFLICT = object()  # the record changed while the payment was being recorded: read it again


class ReconcilePayment:
    """Brings an agreement's set-up and an invoice's charge record in line with their provider."""

    def __init__(self, ctx: PaymentContext, notices: PaymentNotices) -> None:
        self._ctx = ctx
        self._records = ctx.records
        self._notices = notices

    def reconcile_setup(self, agreement_id: str) -> PaymentSetup | None:
        """Fetch the agreement from its provider and bring ours (and its subscription) in line: active,
        stopped or expired; when it is active, the first invoice's payment too."""
        found = self._records.setup(agreement_id)
        if found is None:
            return None
        setup, _ = found
        if setup.provider_reference is None or setup.state not in (SetupState.PENDING, SetupState.ACTIVE):
            return setup
        state = self._ctx.adapter(setup.method).agreement_status(setup.provider_reference)
        if state.status == AgreementStatus.ACTIVE:
            setup = self._activate(agreement_id) or setup
            self._first_payment(setup)
        elif state.status in (AgreementStatus.STOPPED, AgreementStatus.EXPIRED):
            ending = SetupState.STOPPED if state.status == AgreementStatus.STOPPED else SetupState.EXPIRED
            was_active = setup.state == SetupState.ACTIVE
            setup = self._end(agreement_id, ending, state.provider_status) or setup
            if was_active:
                self._notices.stopped(setup, setup.first_invoice_id, only_if_open=True)
        return setup

    def _activate(self, agreement_id: str) -> PaymentSetup | None:
        """PENDING → ACTIVE in one transaction: the set-up, our agreement, a pending subscription, and a
        card agreement's new card item, which the card-expiry job (``payments/card_expiry.py``) reads on
        the day of activation. A replay (the set-up no longer pending) writes nothing."""
        watch_card = True
        for _ in range(ATTEMPTS):
            found = self._records.setup(agreement_id)
            if found is None:
                return None
            setup, version = found
            if setup.state != SetupState.PENDING:
                return setup
            now = self._ctx.clock.now()
            active = setup.model_copy(update={"state": SetupState.ACTIVE, "updated_at": now})
            card = activation_record(active, now) if watch_card else None
            # A create, never an overwrite: should the card item (creates[0]) exist, activate without it.
            creates = [record_item(card)] if card is not None else []
            replaces = [(setup_item(active, version), version)]
            replaces += self._agreement_status_write(agreement_id, OurAgreementStatus.ACTIVE)
            sub_item = self._ctx.versioned(keys.subscription(setup.subscription_id).pk, "SUB")
            subscription = sub_item.document(Subscription)
            if subscription.status == SubscriptionStatus.PENDING:
                started = subscription.model_copy(update={"status": SubscriptionStatus.ACTIVE})
                replaces.append((subscription_item(started, int(sub_item.version)), int(sub_item.version)))
            try:
                self._ctx.store.write(creates, replaces)
            except WriteConflictError as error:
                if creates and 0 in error.failed:
                    watch_card = False  # the card is watched already: keep what the job stored
                continue
            logger.info("payment agreement active", extra={"agreement_id": agreement_id})
            return active
        return None

    def _end(self, agreement_id: str, ending: SetupState, provider_status: str) -> PaymentSetup | None:
        for _ in range(ATTEMPTS):
            found = self._records.setup(agreement_id)
            if found is None:
                return None
            setup, version = found
            if setup.state not in (SetupState.PENDING, SetupState.ACTIVE):
                return setup
            ended = setup.model_copy(
                update={"state": ending, "stopped_by": provider_status, "updated_at": self._ctx.clock.now()}
            )
            replaces = [(setup_item(ended, version), version)]
            replaces += self._agreement_status_write(agreement_id, OurAgreementStatus.STOPPED)
            try:
                self._ctx.store.write([], replaces)
            except WriteConflictError:
                continue
            logger.info(
                "payment agreement ended",
                extra={"agreement_id": agreement_id, "state": ending.value, "provider": provider_status},
            )
            return ended
        return None

    def _agreement_status_write(
        self, agreement_id: str, status: OurAgreementStatus
    ) -> list[tuple[DocumentItem, int]]:
        item = self._ctx.versioned(keys.agreement(agreement_id).pk, "AGREEMENT")
        agreement = item.document(PaymentAgreement)
        if agreement.status == status:
            return []
        changed = agreement.model_copy(update={"status": status})
        return [
            (
                document_item("agreement", keys.agreement(agreement_id), changed, status=changed.status),
                int(item.version),
            )
        ]

    def _first_payment(self, setup: PaymentSetup) -> None:
        found = self._records.charge(setup.first_invoice_id)
        if found is None or found[0].state not in OPEN_CHARGE or setup.provider_reference is None:
            return
        invoice = self._ctx.invoice(setup.first_invoice_id)
        if invoice is None:
            return
        result = self._ctx.adapter(setup.method).take_first_payment(
            setup.provider_reference, invoice_charge(invoice)
        )
        self.apply_charge(setup.first_invoice_id, result)

    # ---- charges ---------------------------------------------------------------------------------------

    def reconcile_charge(self, invoice_id: str, held: HeldCharge | None = None) -> ChargeRecord | None:
        """Fetch an open charge from its provider and apply what it says (``held``: the charge record
        and its invoice as the caller has just read them; otherwise both are read in one round trip)."""
        held = held or self._records.charge_and_invoice(invoice_id)
        if held is None:
            return None
        record = held.record
        if record.charge_ref is None or record.state == ChargeState.CREATING:
            return record
        if record.first and record.state == ChargeState.OPEN:
            setup = self._records.setup(record.agreement_id)
            if setup is not None and setup[0].state == SetupState.PENDING:
                # The first payment comes with the agreement: settle the agreement first.
                self.reconcile_setup(record.agreement_id)
                again = self._records.charge(invoice_id)
                return again[0] if again else None
        result = self._ctx.adapter(record.method).charge_status(record.agreement_ref, record.charge_ref)
        return self.apply_charge(invoice_id, result, held)

    def apply_charge(
        self, invoice_id: str, result: ChargeResult, held: HeldCharge | None = None
    ) -> ChargeRecord | None:
        """Move an invoice's charge record forward to what the provider reports (idempotent):
        paid → a ledger payment (its source reference is the provider's charge id) written in one
        transaction with the record's move to ``paid``, failed → dunning, cancelled → recorded (and the
        customer told when the agreement was stopped). ``held``: the record (and its invoice) as the
        caller has just read them, used for the first attempt; a conflict reads them again."""
        for _ in range(ATTEMPTS):
            current = held or self._held(invoice_id)
            held = None
            if current is None:
                return None
            record, version, invoice = current.record, current.version, current.invoice
            now = self._ctx.clock.now()
            update: dict[str, Any] = {"provider_status": result.provider_status, "updated_at": now}
            if result.charge_ref and record.charge_ref is None:
                update["charge_ref"] = result.charge_ref
            events: list[Event] = []
            paid = result.captured or result.amount
            if result.status in PAID_STATES and paid is not None and paid.amount > 0:
                if record.state == ChargeState.PAID:
                    return record
                settled = self._settle(current, result, paid, update, now)
                if settled is _CONFLICT:
                    continue
                if isinstance(settled, ChargeRecord):
                    return settled
                # Recorded before without this record (a payment of the same charge reported another
                # way): the record's move is written on its own, below.
            else:
                moved = self._unpaid_move(record, result, now, invoice)
                if moved is None:
                    return record
                update |= moved[0]
                events = moved[1]
            changed = record.model_copy(update=update)
            try:
                self._ctx.store.write([], [(charge_item(changed, version), version)], events=events)
            except WriteConflictError:
                continue
            self._after_move(changed, record, invoice_id)
            return changed
        return None

    def _held(self, invoice_id: str) -> HeldCharge | None:
        """The invoice's charge record, read now (its invoice not read)."""
        found = self._records.charge(invoice_id)
        return HeldCharge(found[0], found[1]) if found is not None else None

    def _settle(
        self, held: HeldCharge, result: ChargeResult, paid: Money, update: dict[str, Any], now: datetime
    ) -> ChargeRecord | object | None:
        """Record the charge's payment with the record's move to ``paid``, in one transaction: the record
        as moved, :data:`_CONFLICT` when the record changed meanwhile, None when the payment had been
        recorded before (``update`` then holds the move, to be written on its own)."""
        record = held.record
        incoming, book = self._incoming(
            record, result.charge_ref or record.charge_ref or "", paid, now, held.invoice
        )
        update |= {"state": ChargeState.PAID, "paid_amount": paid.amount, "payment_id": incoming.payment_id}
        changed = record.model_copy(update=update)
        try:
            recorded = self._ctx.ledger.record_payment(
                incoming, book=book, also=[(charge_item(changed, held.version), held.version)]
            )
        except HeldWriteConflictError:
            return _CONFLICT
        if recorded.duplicate:
            return None
        logger.info("charge paid", extra={"invoice_id": record.invoice_id, "provider": record.provider})
        return changed

    def _unpaid_move(
        self, record: ChargeRecord, result: ChargeResult, now: datetime, invoice: DocumentItem | None
    ) -> tuple[dict[str, Any], list[Event]] | None:
        """What a failed, cancelled or still open charge changes on its record (and the events), or None
        when the record is already past it."""
        if result.status == ChargeStatus.FAILED:
            return self._failure(record, result, now, invoice) if record.state in OPEN_CHARGE else None
        if result.status == ChargeStatus.CANCELLED:
            return ({"state": ChargeState.CANCELLED}, []) if record.state in OPEN_CHARGE else None
        return ({"state": ChargeState.OPEN}, []) if record.state == ChargeState.CREATING else None

    def _after_move(self, changed: ChargeRecord, record: ChargeRecord, invoice_id: str) -> None:
        """A cancelled charge whose agreement was stopped tells the customer; every move is logged."""
        if changed.state == ChargeState.CANCELLED:
            setup = self.reconcile_setup(record.agreement_id)
            if setup is not None and setup.state in (SetupState.STOPPED, SetupState.EXPIRED):
                self._notices.stopped(setup, invoice_id, only_if_open=True)
        logger.info(
            "charge updated",
            extra={"invoice_id": invoice_id, "state": changed.state.value, "provider": record.provider},
        )

    def _failure(
        self, record: ChargeRecord, result: ChargeResult, now: datetime, invoice: DocumentItem | None
    ) -> tuple[dict[str, Any], list[Event]]:
        """A declined charge: handed to dunning, the customer sent the link when they must act, and the
        record's update to ``failed`` with its ``payment.failed`` event."""
        reason = result.failure_reason or result.provider_status
        self._ctx.failed_charge(record.invoice_id, record.method, reason, now)
        if result.customer_action_url and (record.attempt == 0 or reason == AUTHENTICATION_REQUIRED):
            # Before the write: once per key, so a crash after it cannot lose the message. A declined
            # retry tells nothing (dunning's next step does); one that needs the customer sends the new
            # attempt's link (the retry withdrew the earlier one).
            self._notices.action_required(record, result.customer_action_url)
        update = {
            "state": ChargeState.FAILED,
            "failure_reason": reason,
            "decline_code": result.decline_code,
            "customer_action_url": result.customer_action_url,
        }
        return update, self._failed_events(record, reason, now, invoice)

    def _failed_events(
        self, record: ChargeRecord, reason: str, now: datetime, held: DocumentItem | None
    ) -> list[Event]:
        """``payment.failed`` for the record's attempt (none when its invoice is gone)."""
        invoice = self._invoice(record.invoice_id, held)
        if invoice is None:
            return []
        # The attempt's own key, the one the provider de-duplicates it by: one event per attempt.
        attempt = f"{record.invoice_id}-retry-{record.attempt}" if record.attempt else record.invoice_id
        method = INCOMING[record.provider].value
        return [payment_failed_event(invoice, attempt, record.amount, method, reason, now)]

    def _invoice(self, invoice_id: str, held: DocumentItem | None) -> Invoice | None:
        if held is not None and held.doc is not None:
            return held.document(Invoice)
        return self._ctx.invoice(invoice_id)

    def _incoming(
        self, record: ChargeRecord, charge_ref: str, paid: Money, now: datetime, held: DocumentItem | None
    ) -> tuple[IncomingPayment, Book]:
        """The ledger payment a paid charge reports, and a book that already holds what recording it
        reads: the invoice (and its KID), then the account, the seller's ledger settings and the seller
        (its time zone gives the payment's date), in one round trip."""
        if held is None:
            held = self._ctx.store.get(keys.invoice(record.invoice_id).pk, "INVOICE")
        invoice = held.document(Invoice) if held is not None and held.doc is not None else None
        book = self._ctx.ledger.book()
        if held is not None and invoice is not None:
            book.hold_invoice(held)
            seller = keys.legal_entity(invoice.legal_entity_id)
            owner = (invoice.customer_id, invoice.legal_entity_id, invoice.currency.value)
            entity = book.prefetch_owner(owner, [(seller.pk, seller.sk)]).get((seller.pk, seller.sk))
            if entity is not None and entity.doc is not None:
                self._ctx.zones.remember(entity.document(LegalEntity))
        kid = invoice.kid if invoice is not None else None
        incoming = IncomingPayment(
            source=record.provider,
            source_reference=charge_ref,
            method=INCOMING[record.provider],
            amount=paid.amount,
            currency=paid.currency,
            paid_on=self._ctx.zones.business_date(now, invoice.legal_entity_id)
            if invoice
            else local_date(now),
            kid=kid,
            kid_valid=kid is not None,
            text=f"{record.provider} charge {charge_ref}",
        )
        return incoming, book
