"""Card and Vipps orchestration: an order's agreement set up at its provider, webhooks and polling turned
into our agreement's and invoices' state, the daily charges, and credit notes refunded.

Every provider call carries an idempotency key derived from our own ids (the agreement's, the invoice's,
the credit note's), and every state change on our side is a conditional write, so a retry, a crash
between a provider call and our write, a duplicated or reordered webhook all end in the same state. A
webhook is only a signal: the worker fetches the agreement or charge from the provider before acting,
and a state only moves forward (open → paid, failed or cancelled; a failed charge that is paid later
still becomes paid).

Each change records its events in its own transaction: a charge that fails ``payment.failed`` with the
charge record's move to ``failed``, a paid charge ``payment.received`` and ``invoice.paid`` with its ledger
payment (:meth:`LedgerService.record_payment`), a credit note paid back ``payment.refunded`` with the
refund record's move to ``done``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.models import LegalEntity, Plan
from chalicelib.catalog.zones import SellerZones
from chalicelib.clock import Clock, local_date
from chalicelib.customers.models import Customer
from chalicelib.dunning.steps import CardRetryRequest, retry_request_keys
from chalicelib.errors import NotFoundError, ValidationFailedError
from chalicelib.events import Event
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.posting import payment_failed_event, payment_refunded_event
from chalicelib.ledger.service import IncomingPayment, LedgerService
from chalicelib.money import Currency, Money
from chalicelib.notifications.render import MessageKind
from chalicelib.notifications.sender import Channel, NotificationSender, Recipient
from chalicelib.observability import logger
from chalicelib.orders.models import Order
from chalicelib.payments.card_expiry import activation_record, record_item
from chalicelib.payments.errors import ProviderError, ProviderRejectedError, ProviderUnavailableError
from chalicelib.payments.interface import (
    AgreementRequest,
    AgreementStatus,
    ChargeResult,
    ChargeStatus,
    InvoiceCharge,
    PaymentMethodAdapter,
    PeriodUnit,
)
from chalicelib.payments.records import (
    CHARGE_DUE,
    CHARGE_TO_POLL,
    OPEN_CHARGE,
    OPEN_SETUP,
    REFUND_TO_POLL,
    RETRY_DUE,
    RETRY_TO_RESUME,
    SETUP_TO_POLL,
    ChargeRecord,
    ChargeState,
    PaymentSetup,
    RefundRecord,
    RefundState,
    SetupState,
    charge_item,
    charge_keys,
    reference_item,
    reference_lookup,
    refund_item,
    refund_keys,
    setup_item,
    setup_keys,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, WriteConflictError, document_item
from chalicelib.store.due import CHARGE_RUN, POLL_RUN, DueEntry, due_entries
from chalicelib.subscriptions.models import (
    AgreementStatus as OurAgreementStatus,
)
from chalicelib.subscriptions.models import (
    PaymentAgreement,
    Subscription,
    SubscriptionStatus,
)
from chalicelib.subscriptions.writes import subscription_item
from chalicelib.values import PaymentMethod

if TYPE_CHECKING:
    from chalicelib.container import Services

ATTEMPTS = 5
# The charging job looks this many days back, so that a missed day or a provider outage is caught up.
CHARGE_LOOKBACK_DAYS = 7
# Provider calls one polling run makes at most (Vipps: fetch charge 10/min per charge, agreement 120/min).
POLL_BUDGET = 60
AUTHENTICATION_REQUIRED = "authentication_required"
PAID_STATES = (ChargeStatus.PAID, ChargeStatus.PARTIALLY_REFUNDED, ChargeStatus.REFUNDED)
INCOMING: dict[str, IncomingMethod] = {"vipps": IncomingMethod.VIPPS, "stripe": IncomingMethod.CARD}

FailedChargeHandler = Callable[[str, PaymentMethod, str, datetime], object]


@dataclass
class ChargingReport:
    """What one run of the charging job did."""

    charged: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    no_agreement: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    interrupted: str | None = None


@dataclass
class RetryReport:
    """What one pass over dunning's card retry requests did."""

    charged: list[str] = field(default_factory=list)  # charged again (the outcome is on the charge record)
    resumed: list[str] = field(default_factory=list)  # attempts an earlier run left before the provider call
    no_agreement: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # an earlier charge still open: the next run looks again
    skipped: int = 0  # invoice closed meanwhile, not a card charge, or a later attempt made already
    failed: list[str] = field(default_factory=list)  # the provider refused the request
    interrupted: str | None = None


@dataclass
class PollReport:
    """What one polling run looked at and changed."""

    setups: int = 0
    charges: int = 0
    refunds: int = 0
    provider_calls: int = 0
    interrupted: str | None = None


@dataclass(frozen=True)
class _Versioned:
    item: DocumentItem

    @property
    def version(self) -> int:
        return int(self.item.version)


class PaymentService:
    """Sets up agreements, reconciles them and their charges, charges due invoices, refunds credit notes."""

    def __init__(
        self,
        store: DocumentStore,
        ledger: LedgerService,
        notifications: NotificationSender,
        clock: Clock,
        adapters: Callable[[PaymentMethod], PaymentMethodAdapter],
        failed_charge: FailedChargeHandler,
        zones: SellerZones | None = None,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._notifications = notifications
        self._clock = clock
        self._adapters = adapters
        self._failed_charge = failed_charge
        self._zones = zones or SellerZones(store)

    def adapter(self, method: PaymentMethod) -> PaymentMethodAdapter:
        """The provider's adapter of ``method``."""
        return self._adapters(method)

    # ---- reading ---------------------------------------------------------------------------------------

    def setup(self, agreement_id: str) -> tuple[PaymentSetup, int] | None:
        """An agreement's set-up and its version."""
        found = self._store.get(setup_keys(agreement_id).pk, "SETUP")
        if found is None or found.doc is None:
            return None
        return found.document(PaymentSetup), int(found.version)

    def charge(self, invoice_id: str) -> tuple[ChargeRecord, int] | None:
        """An invoice's charge record and its version."""
        found = self._store.get(charge_keys(invoice_id).pk, "CHARGE")
        if found is None or found.doc is None:
            return None
        return found.document(ChargeRecord), int(found.version)

    def refund_record(self, credit_note_id: str) -> tuple[RefundRecord, int] | None:
        """A credit note's refund record and its version."""
        found = self._store.get(refund_keys(credit_note_id).pk, "REFUND")
        if found is None or found.doc is None:
            return None
        return found.document(RefundRecord), int(found.version)

    def _order(self, order_id: str) -> tuple[Order, int]:
        found = self._store.get(keys.order(order_id).pk, "ORDER")
        if found is None or found.doc is None:
            raise NotFoundError(f"no order {order_id}")
        return found.document(Order), int(found.version)

    def _invoice(self, invoice_id: str) -> Invoice | None:
        return self._store.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)

    def _versioned(self, pk: str, sk: str) -> DocumentItem:
        found = self._store.get(pk, sk)
        if found is None or found.doc is None:
            raise NotFoundError(f"nothing at {pk}/{sk}")
        return found

    # ---- setting up ------------------------------------------------------------------------------------

    def set_up(self, order_id: str) -> Order:
        """Ask the provider for the order's agreement (first invoice as its first payment) and store its
        reference and the customer's confirmation URL; a repeat returns what the first call stored.
        Raises :class:`ProviderUnavailableError` while the provider is down (the order stays as it is and
        the polling job retries), :class:`ProviderRejectedError` when it refuses (the set-up is failed)."""
        order, _ = self._order(order_id)
        found = self.setup(order.agreement_id)
        if found is None:
            raise NotFoundError(f"order {order_id} is not paid through a payment provider")
        setup, _ = found
        if setup.state != SetupState.NEW:
            return order
        try:
            request = self._agreement_request(setup)
            result = self.adapter(setup.method).set_up_agreement(request)
        except (ProviderRejectedError, ValidationFailedError) as error:
            self._fail_setup(setup.agreement_id, str(error))
            raise
        for _ in range(ATTEMPTS):
            order, order_version = self._order(order_id)
            current = self.setup(order.agreement_id)
            if current is None or current[0].state != SetupState.NEW:
                return order
            setup, version = current
            now = self._clock.now()
            pending = setup.model_copy(
                update={
                    "state": SetupState.PENDING,
                    "provider_reference": result.agreement_ref,
                    "redirect_url": result.confirmation_url,
                    "first_charge_ref": result.first_charge_ref,
                    "updated_at": now,
                }
            )
            agreement_item = self._versioned(keys.agreement(setup.agreement_id).pk, "AGREEMENT")
            agreement = agreement_item.document(PaymentAgreement)
            if agreement.provider_reference not in (None, result.agreement_ref):
                raise ProviderError(
                    detail=f"agreement {agreement.id} already names {agreement.provider_reference}",
                    provider=setup.provider,
                )
            referenced = agreement.model_copy(update={"provider_reference": result.agreement_ref})
            updated_order = order.model_copy(
                update={"payment": order.payment.model_copy(update={"redirect_url": result.confirmation_url})}
            )
            creates = [reference_item(setup.provider, result.agreement_ref, setup_keys(setup.agreement_id))]
            if result.first_charge_ref:
                first = self._first_charge(setup, pending, result.first_charge_ref, now)
                creates += [
                    charge_item(first),
                    reference_item(setup.provider, result.first_charge_ref, charge_keys(first.invoice_id)),
                ]
            replaces = [
                (setup_item(pending, version), version),
                (
                    document_item(
                        "agreement", keys.agreement(agreement.id), referenced, status=referenced.status
                    ),
                    int(agreement_item.version),
                ),
                (document_item("order", keys.order(order.id), updated_order), order_version),
            ]
            try:
                self._store.write(creates, replaces)
            except WriteConflictError:
                continue
            logger.info(
                "payment agreement set up",
                extra={"agreement_id": setup.agreement_id, "provider": setup.provider},
            )
            return updated_order
        return self._order(order_id)[0]

    def _first_charge(
        self, setup: PaymentSetup, pending: PaymentSetup, charge_ref: str, now: datetime
    ) -> ChargeRecord:
        invoice = self._invoice(setup.first_invoice_id)
        if invoice is None:
            raise NotFoundError(f"no invoice {setup.first_invoice_id}")
        assert pending.provider_reference is not None
        return ChargeRecord(
            invoice_id=invoice.id,
            agreement_id=setup.agreement_id,
            method=setup.method,
            provider=setup.provider,
            agreement_ref=pending.provider_reference,
            charge_ref=charge_ref,
            state=ChargeState.OPEN,
            amount=invoice.open_amount,
            currency=invoice.currency.value,
            due_date=invoice.due_date,
            first=True,
            created_at=now,
            updated_at=now,
        )

    def _agreement_request(self, setup: PaymentSetup) -> AgreementRequest:
        subscription = self._store.get_document(
            keys.subscription(setup.subscription_id).pk, "SUB", Subscription
        )
        invoice = self._invoice(setup.first_invoice_id)
        if subscription is None or invoice is None:
            raise NotFoundError(f"the subscription or first invoice of agreement {setup.agreement_id}")
        phase = subscription.phases[-1]
        plan = self._store.get_document(keys.plan(phase.plan_id).pk, "PLAN", Plan)
        if plan is None:
            raise NotFoundError(f"plan {phase.plan_id} is gone")
        quantity = phase.quantity or subscription.quantity
        # Vipps shows the recurring price; it takes at least 1 krone.
        price = max(plan.price * quantity, 100)
        return AgreementRequest(
            agreement_id=setup.agreement_id,
            product_name=plan.name,
            price=Money(price, plan.currency),
            interval_unit=PeriodUnit(plan.period.unit.value.upper()),
            interval_count=plan.period.count,
            first_invoice=self._invoice_charge(invoice),
            product_description=f"{plan.name} x {quantity}" if quantity > 1 else None,
        )

    @staticmethod
    def _invoice_charge(invoice: Invoice) -> InvoiceCharge:
        return InvoiceCharge(
            invoice_id=invoice.id,
            amount=Money(invoice.open_amount, invoice.currency),
            description=f"Faktura {invoice.number}",
            due=invoice.due_date,
        )

    def _fail_setup(self, agreement_id: str, reason: str) -> None:
        for _ in range(ATTEMPTS):
            found = self.setup(agreement_id)
            if found is None or found[0].state != SetupState.NEW:
                return
            setup, version = found
            failed = setup.model_copy(
                update={"state": SetupState.FAILED, "failure": reason[:500], "updated_at": self._clock.now()}
            )
            try:
                self._store.write([], [(setup_item(failed, version), version)])
                return
            except WriteConflictError:
                continue

    # ---- agreements ------------------------------------------------------------------------------------

    def reconcile_setup(self, agreement_id: str) -> PaymentSetup | None:
        """Fetch the agreement from its provider and bring ours (and its subscription) in line: active,
        stopped or expired; when it is active, the first invoice's payment too."""
        found = self.setup(agreement_id)
        if found is None:
            return None
        setup, _ = found
        if setup.provider_reference is None or setup.state not in (SetupState.PENDING, SetupState.ACTIVE):
            return setup
        state = self.adapter(setup.method).agreement_status(setup.provider_reference)
        if state.status == AgreementStatus.ACTIVE:
            setup = self._activate(agreement_id) or setup
            self._first_payment(setup)
        elif state.status in (AgreementStatus.STOPPED, AgreementStatus.EXPIRED):
            ending = SetupState.STOPPED if state.status == AgreementStatus.STOPPED else SetupState.EXPIRED
            was_active = setup.state == SetupState.ACTIVE
            setup = self._end(agreement_id, ending, state.provider_status) or setup
            if was_active:
                self._tell_stopped(setup, setup.first_invoice_id, only_if_open=True)
        return setup

    def _activate(self, agreement_id: str) -> PaymentSetup | None:
        """PENDING → ACTIVE in one transaction: the set-up, our agreement, a pending subscription, and a
        card agreement's new card item, which the card-expiry job (``payments/card_expiry.py``) reads on
        the day of activation. A replay (the set-up no longer pending) writes nothing."""
        watch_card = True
        for _ in range(ATTEMPTS):
            found = self.setup(agreement_id)
            if found is None:
                return None
            setup, version = found
            if setup.state != SetupState.PENDING:
                return setup
            now = self._clock.now()
            active = setup.model_copy(update={"state": SetupState.ACTIVE, "updated_at": now})
            card = activation_record(active, now) if watch_card else None
            # A create, never an overwrite: should the card item (creates[0]) exist, activate without it.
            creates = [record_item(card)] if card is not None else []
            replaces = [(setup_item(active, version), version)]
            replaces += self._agreement_status_write(agreement_id, OurAgreementStatus.ACTIVE)
            sub_item = self._versioned(keys.subscription(setup.subscription_id).pk, "SUB")
            subscription = sub_item.document(Subscription)
            if subscription.status == SubscriptionStatus.PENDING:
                started = subscription.model_copy(update={"status": SubscriptionStatus.ACTIVE})
                replaces.append((subscription_item(started, int(sub_item.version)), int(sub_item.version)))
            try:
                self._store.write(creates, replaces)
            except WriteConflictError as error:
                if creates and 0 in error.failed:
                    watch_card = False  # the card is watched already: keep what the job stored
                continue
            logger.info("payment agreement active", extra={"agreement_id": agreement_id})
            return active
        return None

    def _end(self, agreement_id: str, ending: SetupState, provider_status: str) -> PaymentSetup | None:
        for _ in range(ATTEMPTS):
            found = self.setup(agreement_id)
            if found is None:
                return None
            setup, version = found
            if setup.state not in (SetupState.PENDING, SetupState.ACTIVE):
                return setup
            ended = setup.model_copy(
                update={"state": ending, "stopped_by": provider_status, "updated_at": self._clock.now()}
            )
            replaces = [(setup_item(ended, version), version)]
            replaces += self._agreement_status_write(agreement_id, OurAgreementStatus.STOPPED)
            try:
                self._store.write([], replaces)
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
        item = self._versioned(keys.agreement(agreement_id).pk, "AGREEMENT")
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
        found = self.charge(setup.first_invoice_id)
        if found is None or found[0].state not in OPEN_CHARGE or setup.provider_reference is None:
            return
        invoice = self._invoice(setup.first_invoice_id)
        if invoice is None:
            return
        result = self.adapter(setup.method).take_first_payment(
            setup.provider_reference, self._invoice_charge(invoice)
        )
        self.apply_charge(setup.first_invoice_id, result)

    # ---- charges ---------------------------------------------------------------------------------------

    def reconcile_charge(self, invoice_id: str) -> ChargeRecord | None:
        """Fetch an open charge from its provider and apply what it says."""
        found = self.charge(invoice_id)
        if found is None:
            return None
        record, _ = found
        if record.charge_ref is None or record.state == ChargeState.CREATING:
            return record
        if record.first and record.state == ChargeState.OPEN:
            setup = self.setup(record.agreement_id)
            if setup is not None and setup[0].state == SetupState.PENDING:
                # The first payment comes with the agreement: settle the agreement first.
                self.reconcile_setup(record.agreement_id)
                again = self.charge(invoice_id)
                return again[0] if again else None
        result = self.adapter(record.method).charge_status(record.agreement_ref, record.charge_ref)
        return self.apply_charge(invoice_id, result)

    def apply_charge(  # noqa: PLR0911, PLR0912 - one outcome per provider status
        self, invoice_id: str, result: ChargeResult
    ) -> ChargeRecord | None:
        """Move an invoice's charge record forward to what the provider reports (idempotent):
        paid → a ledger payment (its source reference is the provider's charge id), failed → dunning,
        cancelled → recorded (and the customer told when the agreement was stopped)."""
        for _ in range(ATTEMPTS):
            found = self.charge(invoice_id)
            if found is None:
                return None
            record, version = found
            now = self._clock.now()
            update: dict[str, Any] = {"provider_status": result.provider_status, "updated_at": now}
            events: list[Event] = []
            if result.charge_ref and record.charge_ref is None:
                update["charge_ref"] = result.charge_ref
            paid = result.captured or result.amount
            if result.status in PAID_STATES and paid is not None and paid.amount > 0:
                if record.state == ChargeState.PAID:
                    return record
                payment = self._record_payment(
                    record, result.charge_ref or record.charge_ref or "", paid, now
                )
                update |= {"state": ChargeState.PAID, "paid_amount": paid.amount, "payment_id": payment}
            elif result.status == ChargeStatus.FAILED:
                if record.state not in OPEN_CHARGE:
                    return record
                reason = result.failure_reason or result.provider_status
                self._failed_charge(invoice_id, record.method, reason, now)
                if result.customer_action_url and (record.attempt == 0 or reason == AUTHENTICATION_REQUIRED):
                    # Before the write: once per key, so a crash after it cannot lose the message. A
                    # declined retry tells nothing (dunning's next step does); one that needs the customer
                    # sends the new attempt's link (the retry withdrew the earlier one).
                    self._tell_action_required(record, result.customer_action_url)
                update |= {
                    "state": ChargeState.FAILED,
                    "failure_reason": reason,
                    "decline_code": result.decline_code,
                    "customer_action_url": result.customer_action_url,
                }
                events = self._failed_events(record, reason, now)
            elif result.status == ChargeStatus.CANCELLED:
                if record.state not in OPEN_CHARGE:
                    return record
                update["state"] = ChargeState.CANCELLED
            else:
                if record.state != ChargeState.CREATING:
                    return record
                update["state"] = ChargeState.OPEN
            changed = record.model_copy(update=update)
            try:
                self._store.write([], [(charge_item(changed, version), version)], events=events)
            except WriteConflictError:
                continue
            if changed.state == ChargeState.CANCELLED:
                setup = self.reconcile_setup(record.agreement_id)
                if setup is not None and setup.state in (SetupState.STOPPED, SetupState.EXPIRED):
                    self._tell_stopped(setup, invoice_id, only_if_open=True)
            logger.info(
                "charge updated",
                extra={"invoice_id": invoice_id, "state": changed.state.value, "provider": record.provider},
            )
            return changed
        return None

    def _failed_events(self, record: ChargeRecord, reason: str, now: datetime) -> list[Event]:
        """``payment.failed`` for the record's attempt (none when its invoice is gone)."""
        invoice = self._invoice(record.invoice_id)
        if invoice is None:
            return []
        # The attempt's own key, the one the provider de-duplicates it by: one event per attempt.
        attempt = f"{record.invoice_id}-retry-{record.attempt}" if record.attempt else record.invoice_id
        method = INCOMING[record.provider].value
        return [payment_failed_event(invoice, attempt, record.amount, method, reason, now)]

    def _record_payment(self, record: ChargeRecord, charge_ref: str, paid: Money, now: datetime) -> str:
        invoice = self._invoice(record.invoice_id)
        kid = invoice.kid if invoice is not None else None
        incoming = IncomingPayment(
            source=record.provider,
            source_reference=charge_ref,
            method=INCOMING[record.provider],
            amount=paid.amount,
            currency=paid.currency,
            paid_on=self._zones.business_date(now, invoice.legal_entity_id) if invoice else local_date(now),
            kid=kid,
            kid_valid=kid is not None,
            text=f"{record.provider} charge {charge_ref}",
        )
        recorded = self._ledger.record_payment(incoming)
        return recorded.payment.id

    # ---- the charging job ------------------------------------------------------------------------------

    def charge_all_due(self, today: date) -> tuple[ChargingReport, RetryReport]:
        """The charging job: one read of its due entries, then the first charges, then dunning's card
        retries (an empty day costs that one query)."""
        entries = list(due_entries(CHARGE_RUN, today))
        return self._charge_entries(entries, today), self._retry_entries(entries, today)

    def charge_due(self, today: date | None = None) -> ChargingReport:
        """Create the provider charge of every indexed invoice whose charge date has come (a week back
        included), each exactly once; stops early while the provider is unavailable."""
        today = today or local_date(self._clock.now())
        return self._charge_entries(list(due_entries(CHARGE_RUN, today)), today)

    def _charge_entries(self, entries: Sequence[DueEntry], today: date) -> ChargingReport:
        report = ChargingReport()
        since = today - timedelta(days=CHARGE_LOOKBACK_DAYS)
        for due in entries:
            if due.shard != CHARGE_DUE or due.day < since:
                continue
            try:
                self._charge_one(DocumentItem(due.pk, due.sk), due.ident, report)
            except ProviderUnavailableError as error:
                report.interrupted = str(error)
                logger.warning("payment provider unavailable; charging stops for now")
                return report
        return report

    def _charge_one(self, entry: DocumentItem, invoice_id: str, report: ChargingReport) -> None:
        invoice = self._invoice(invoice_id)
        if (
            invoice is None
            or invoice.kind != InvoiceKind.INVOICE
            or invoice.status != InvoiceStatus.ISSUED
            or invoice.open_amount <= 0
        ):
            self._unindex(entry)
            report.skipped += 1
            return
        subscription = (
            self._store.get_document(keys.subscription(invoice.subscription_id).pk, "SUB", Subscription)
            if invoice.subscription_id
            else None
        )
        found = self.setup(subscription.agreement_id) if subscription is not None else None
        if found is None or found[0].method != invoice.payment_method:
            self._unindex(entry)
            report.skipped += 1
            return
        setup = found[0]
        if setup.state in OPEN_SETUP:
            report.waiting.append(invoice_id)  # charged once the agreement is active (within the lookback)
            return
        if setup.state != SetupState.ACTIVE or setup.provider_reference is None:
            self._tell_stopped(setup, invoice_id, only_if_open=False)
            self._unindex(entry)
            report.no_agreement.append(invoice_id)
            return
        record = self._mark_charge(invoice, setup)
        if record is None or record.state != ChargeState.CREATING:
            self._unindex(entry)
            report.skipped += 1
            return
        charge = self._invoice_charge(invoice)
        if self._provider_charge(setup.method, setup.provider_reference, charge, entry):
            report.charged.append(invoice_id)
        else:
            report.failed.append(invoice_id)

    def _provider_charge(
        self, method: PaymentMethod, agreement_ref: str, charge: InvoiceCharge, entry: DocumentItem | None
    ) -> bool:
        """Create the charge at the provider (its idempotency key makes a repeat the same charge), record
        it as open and apply its outcome; False when the provider refused the request."""
        invoice_id = charge.invoice_id
        try:
            result = self.adapter(method).charge_invoice(agreement_ref, charge)
        except ProviderRejectedError as error:
            logger.warning("charge refused", extra={"invoice_id": invoice_id, "error": str(error)})
            rejected = ChargeResult(
                charge_ref="",
                status=ChargeStatus.FAILED,
                provider_status="rejected",
                failure_reason=(error.problem_detail or error.detail or "rejected")[:200],
            )
            self._opened(invoice_id, None, entry)
            self.apply_charge(invoice_id, rejected)
            return False
        self._opened(invoice_id, result.charge_ref, entry)
        if result.status != ChargeStatus.PENDING:
            self.apply_charge(invoice_id, result)
        return True

    def _mark_charge(self, invoice: Invoice, setup: PaymentSetup) -> ChargeRecord | None:
        """The invoice's charge record, created (state ``creating``) before the provider is called."""
        found = self.charge(invoice.id)
        if found is not None:
            return found[0]
        assert setup.provider_reference is not None
        now = self._clock.now()
        record = ChargeRecord(
            invoice_id=invoice.id,
            agreement_id=setup.agreement_id,
            method=setup.method,
            provider=setup.provider,
            agreement_ref=setup.provider_reference,
            state=ChargeState.CREATING,
            amount=invoice.open_amount,
            currency=invoice.currency.value,
            due_date=invoice.due_date,
            created_at=now,
            updated_at=now,
        )
        try:
            self._store.put_new(charge_item(record))
        except WriteConflictError:
            again = self.charge(invoice.id)
            return again[0] if again else None
        return record

    def _opened(self, invoice_id: str, charge_ref: str | None, entry: DocumentItem | None) -> None:
        """The provider has the charge: the record becomes open (with the provider's reference and its
        lookup) and the invoice leaves the charge index (``entry``; none for a retry), in one transaction."""
        for _ in range(ATTEMPTS):
            found = self.charge(invoice_id)
            if found is None or found[0].state != ChargeState.CREATING:
                if entry is not None:
                    self._unindex(entry)
                return
            record, version = found
            opened = record.model_copy(
                update={
                    "state": ChargeState.OPEN,
                    "charge_ref": charge_ref or record.charge_ref,
                    "updated_at": self._clock.now(),
                }
            )
            creates = (
                [reference_item(record.provider, charge_ref, charge_keys(invoice_id))] if charge_ref else []
            )
            try:
                self._store.write(
                    creates,
                    [(charge_item(opened, version), version)],
                    deletes=[entry] if entry is not None else [],
                )
                return
            except WriteConflictError:
                continue

    def _unindex(self, entry: DocumentItem) -> None:
        self._store.write([], [], deletes=[entry])

    # ---- dunning's card retries ------------------------------------------------------------------------

    def charge_retries(self, today: date | None = None) -> RetryReport:
        """Charge declined cards again on dunning's retry days: every retry request listed for ``today``
        (a week back included), each exactly once, for the invoice's open amount then; stops early while
        the provider is unavailable.

        A request is handled by one transaction that moves the invoice's charge record from ``failed`` to
        ``creating`` for the request's attempt (conditional on the record's and the request's versions)
        and takes the request off its list with its outcome; the provider call follows, keyed by invoice
        and attempt. An attempt a crash left in ``creating`` is finished by the next run, with the same
        key. A request whose invoice is paid, credited or void, or whose agreement ended (the customer is
        told), is taken off without a charge."""
        today = today or local_date(self._clock.now())
        return self._retry_entries(list(due_entries(CHARGE_RUN, today)), today)

    def _retry_entries(self, entries: Sequence[DueEntry], today: date) -> RetryReport:
        report = RetryReport()
        since = today - timedelta(days=CHARGE_LOOKBACK_DAYS)
        try:
            for due in entries:
                if due.shard == RETRY_TO_RESUME:
                    self._resume_retry(due.ident, report)
            for due in entries:
                if due.shard == RETRY_DUE and due.day >= since:
                    self._retry_one(DocumentItem(due.pk, due.sk), report)
        except ProviderUnavailableError as error:
            report.interrupted = str(error)
            logger.warning("payment provider unavailable; card retries stop for now")
        return report

    def _resume_retry(self, invoice_id: str, report: RetryReport) -> None:
        """Finish a retry an earlier run marked (``creating``) but may not have sent: the same idempotency
        key makes a charge the provider already has the same charge."""
        found = self.charge(invoice_id)
        if found is None or found[0].state != ChargeState.CREATING:
            return
        record, version = found
        if record.attempt == 0 or record.method != PaymentMethod.CARD:
            return  # a first charge is finished by charge_due from its index entry
        invoice = self._invoice(record.invoice_id)
        if not _open(invoice):
            # Paid another way meanwhile: charging now could take the money twice.
            logger.warning(
                "card retry not resumed: the invoice is no longer open",
                extra={"invoice_id": record.invoice_id, "attempt": record.attempt},
            )
            dropped = record.model_copy(
                update={
                    "state": ChargeState.CANCELLED,
                    "provider_status": "not_resumed",
                    "updated_at": self._clock.now(),
                }
            )
            with contextlib.suppress(WriteConflictError):
                self._store.write([], [(charge_item(dropped, version), version)])
            return
        assert invoice is not None
        self._provider_charge(record.method, record.agreement_ref, self._retry_charge(record, invoice), None)
        report.resumed.append(record.invoice_id)

    def _retry_one(self, entry: DocumentItem, report: RetryReport) -> None:
        for _ in range(ATTEMPTS):
            item = self._store.get(entry.pk, entry.sk)
            if item is None or item.doc is None or item.gsi1pk is None:
                return  # handled meanwhile (another run)
            request = item.document(CardRetryRequest)
            invoice = self._invoice(request.invoice_id)
            found = self.charge(request.invoice_id)
            outcome = _retry_outcome(request, invoice, found[0] if found else None)
            if outcome == "waiting":
                report.waiting.append(request.invoice_id)  # the run of another day looks again
                return
            if outcome is not None:
                if self._request_handled(item, outcome):
                    report.skipped += 1
                    return
                continue
            assert invoice is not None and found is not None
            record, version = found
            setup = self.setup(record.agreement_id)
            if setup is None or setup[0].state != SetupState.ACTIVE or setup[0].provider_reference is None:
                if setup is not None and setup[0].state in (SetupState.STOPPED, SetupState.EXPIRED):
                    self._tell_stopped(setup[0], invoice.id, only_if_open=True)
                if self._request_handled(item, "no_agreement"):
                    report.no_agreement.append(invoice.id)
                    return
                continue
            if self._previous_paid(record):
                continue  # the customer paid the earlier attempt on session: the invoice is closed now
            now = self._clock.now()
            charging = record.model_copy(
                update={
                    "state": ChargeState.CREATING,
                    "attempt": request.attempt,
                    "amount": invoice.open_amount,
                    "charge_ref": None,
                    "failure_reason": None,
                    "decline_code": None,
                    "customer_action_url": None,
                    "provider_status": None,
                    "updated_at": now,
                }
            )
            try:
                self._store.write(
                    [],
                    [(charge_item(charging, version), version), self._handled_write(item, "attempted", now)],
                )
            except WriteConflictError:
                continue
            charge = self._retry_charge(charging, invoice)
            if self._provider_charge(record.method, record.agreement_ref, charge, None):
                report.charged.append(invoice.id)
            else:
                report.failed.append(invoice.id)
            return

    def _previous_paid(self, record: ChargeRecord) -> bool:
        """Before a new attempt, the previous one's charge (a PaymentIntent the customer may still pay on
        session through the link we sent) is withdrawn, so that the invoice cannot be paid twice; if the
        customer paid it meanwhile, that payment is applied instead (True)."""
        if record.charge_ref is None:
            return False
        adapter = self.adapter(record.method)
        previous = adapter.charge_status(record.agreement_ref, record.charge_ref)
        if previous.status in (ChargeStatus.FAILED, ChargeStatus.PENDING):
            try:
                previous = adapter.cancel_charge(record.agreement_ref, record.charge_ref)
            except ProviderRejectedError:  # taken meanwhile: Stripe cancels no paid intent
                previous = adapter.charge_status(record.agreement_ref, record.charge_ref)
        if previous.status in PAID_STATES:
            self.apply_charge(record.invoice_id, previous)
            return True
        return False

    @staticmethod
    def _retry_charge(record: ChargeRecord, invoice: Invoice) -> InvoiceCharge:
        return InvoiceCharge(
            invoice_id=record.invoice_id,
            amount=Money(record.amount, Currency(record.currency)),
            description=f"Faktura {invoice.number}",
            due=record.due_date,
            attempt=record.attempt,
        )

    def _handled_write(self, item: DocumentItem, outcome: str, now: datetime) -> tuple[DocumentItem, int]:
        """The retry request, kept with its outcome and off the day's list, at its read version."""
        request = item.document(CardRetryRequest)
        version = int(item.version)
        handled = request.model_copy(update={"outcome": outcome, "handled_at": now})
        keys_ = retry_request_keys(request.invoice_id, request.attempt)
        return document_item("card_retry", keys_, handled, version=version), version

    def _request_handled(self, item: DocumentItem, outcome: str) -> bool:
        """Take a request off its list without a charge; False when it changed meanwhile."""
        try:
            self._store.write([], [self._handled_write(item, outcome, self._clock.now())])
        except WriteConflictError:
            return False
        logger.info("card retry request handled", extra={"key": item.pk, "outcome": outcome})
        return True

    # ---- telling the customer --------------------------------------------------------------------------

    def _tell_stopped(self, setup: PaymentSetup, invoice_id: str, *, only_if_open: bool) -> None:
        """The customer stopped (or never confirmed) the agreement and ``invoice_id`` is still to pay:
        ask them to pay it another way (once per invoice)."""
        invoice = self._invoice(invoice_id)
        if invoice is None:
            return
        if only_if_open and (invoice.status != InvoiceStatus.ISSUED or invoice.open_amount <= 0):
            return
        key = f"payments:{invoice.id}:agreement-{setup.state.value}"
        amount = Money(invoice.open_amount, invoice.currency)
        self._tell_payment_failed(setup.customer_id, invoice, key, amount)

    def _tell_action_required(self, record: ChargeRecord, action_url: str) -> None:
        """The charge needs the customer (a card asking for authentication): send them the link where
        they pay it on session (once per invoice)."""
        invoice = self._invoice(record.invoice_id)
        setup = self.setup(record.agreement_id)
        if invoice is None or setup is None:
            return
        # One message per attempt: a retry withdraws the earlier attempt's charge, and its link with it.
        suffix = f"-{record.attempt}" if record.attempt else ""
        key = f"payments:{invoice.id}:action-required{suffix}"
        amount = Money(record.amount, Currency(record.currency))
        self._tell_payment_failed(setup[0].customer_id, invoice, key, amount, action_url=action_url)

    def _tell_payment_failed(
        self, customer_id: str, invoice: Invoice, key: str, amount: Money, *, action_url: str | None = None
    ) -> None:
        """E-mail the customer the payment-failed message about ``invoice`` (``amount`` to pay, and the
        link where they pay it on session when given), once per ``key``; nothing when the customer or
        the invoice's seller is not found."""
        customer_keys = keys.customer(customer_id)
        entity_pk = keys.legal_entity(invoice.legal_entity_id).pk
        found = self._store.batch_get([(customer_keys.pk, customer_keys.sk), (entity_pk, "ENTITY")])
        customer_item = found.get((customer_keys.pk, customer_keys.sk))
        entity_item = found.get((entity_pk, "ENTITY"))
        if customer_item is None or entity_item is None:
            return
        customer = customer_item.document(Customer)
        context: dict[str, Any] = {
            "customer_name": customer.name,
            "seller_name": entity_item.document(LegalEntity).name,
            "invoice_number": str(invoice.number),
            "amount": amount,
            "next_attempt": None,
        }
        if action_url is not None:
            context["action_url"] = action_url
        self._notifications.send(
            message_key=key,
            kind=MessageKind.PAYMENT_FAILED,
            channel=Channel.EMAIL,
            recipient=Recipient.of(
                customer, email_opt_out=customer.email_opt_out, sms_opt_out=customer.sms_opt_out
            ),
            context=context,
        )

    # ---- refunds ---------------------------------------------------------------------------------------

    def refund_credit_note(self, credit_note: Invoice) -> RefundRecord | None:
        """A credit note on an invoice paid through a provider: pay the credited amount back there, at
        most what the charge took and what the customer's account holds as credit (money the credit note
        released onto other open invoices is not paid out). Idempotent by the credit note's id; a
        provider outage leaves the refund open for the polling job."""
        if credit_note.kind != InvoiceKind.CREDIT_NOTE or not credit_note.credited_invoice_id:
            return None
        found = self.refund_record(credit_note.id)
        if found is None:
            decided = self._decide_refund(credit_note)
            if decided is None:
                return None
            with contextlib.suppress(WriteConflictError):
                self._store.put_new(refund_item(decided))
            found = self.refund_record(credit_note.id)
            if found is None:
                return None
        return self._pay_back(found[0])

    def refund_after_credit_note(self, credit_note: Invoice) -> RefundRecord | None:
        """The credit-note route's hook: refund through the provider; while the provider is down the
        refund stays open for the polling job (the credit note itself is already issued)."""
        try:
            return self.refund_credit_note(credit_note)
        except ProviderError as error:
            logger.warning(
                "credit note refund not paid yet",
                extra={"credit_note_id": credit_note.id, "error": str(error)},
            )
            found = self.refund_record(credit_note.id)
            return found[0] if found else None

    def set_up_after_order(self, order: Order) -> Order:
        """The order route's hook: set the agreement up at once; a provider outage leaves the order as
        stored (``redirect_url`` empty) for ``POST /v1/orders/{id}/payment`` or the polling job."""
        if order.payment_method not in (PaymentMethod.VIPPS, PaymentMethod.CARD):
            return order
        try:
            return self.set_up(order.id)
        except (ProviderError, ValidationFailedError) as error:
            logger.warning(
                "payment agreement not set up yet", extra={"order_id": order.id, "error": str(error)}
            )
            return self._order(order.id)[0]

    def _decide_refund(self, credit_note: Invoice) -> RefundRecord | None:
        assert credit_note.credited_invoice_id is not None
        charged = self.charge(credit_note.credited_invoice_id)
        if charged is None:
            return None
        charge = charged[0]
        if charge.state != ChargeState.PAID or charge.charge_ref is None:
            return None
        account = self._ledger.book().account(
            credit_note.customer_id, credit_note.legal_entity_id, credit_note.currency.value
        )
        amount = min(-credit_note.totals.gross, charge.paid_amount - charge.refunded, account.account.credit)
        if amount <= 0:
            return None
        now = self._clock.now()
        return RefundRecord(
            credit_note_id=credit_note.id,
            invoice_id=charge.invoice_id,
            provider=charge.provider,
            agreement_ref=charge.agreement_ref,
            charge_ref=charge.charge_ref,
            amount=amount,
            currency=credit_note.currency.value,
            created_at=now,
            updated_at=now,
        )

    def _pay_back(self, record: RefundRecord) -> RefundRecord:
        if record.state == RefundState.DONE:
            return record
        method = PaymentMethod.VIPPS if record.provider == "vipps" else PaymentMethod.CARD
        result = self.adapter(method).refund(
            record.agreement_ref,
            record.charge_ref,
            Money(record.amount, Currency(record.currency)),
            f"Kreditnota {record.credit_note_id}"[:45],
            record.credit_note_id,
        )
        from chalicelib.ledger import rules
        from chalicelib.ledger.posting import posting_writes

        for _ in range(ATTEMPTS):
            found = self.refund_record(record.credit_note_id)
            charged = self.charge(record.invoice_id)
            if found is None or charged is None:
                return record
            current, version = found
            if current.state == RefundState.DONE:
                return current
            charge, charge_version = charged
            now = self._clock.now()
            invoice = self._invoice(record.invoice_id)
            if invoice is None:
                return current
            stored = self._ledger.book().account(
                invoice.customer_id, invoice.legal_entity_id, invoice.currency.value
            )
            done = current.model_copy(
                update={"state": RefundState.DONE, "refund_ref": result.refund_ref, "updated_at": now}
            )
            refunded = charge.model_copy(
                update={"refunded": charge.refunded + record.amount, "updated_at": now}
            )
            replaces = [
                (refund_item(done, version), version),
                (charge_item(refunded, charge_version), charge_version),
            ]
            creates: list[DocumentItem] = []
            updates: list[Any] = []
            owner = (invoice.customer_id, invoice.legal_entity_id, record.currency)
            events = [
                payment_refunded_event(
                    record.credit_note_id, owner, record.amount, INCOMING[record.provider].value, now
                )
            ]
            try:
                posting = rules.refund_credit(stored.account, record.amount, record.credit_note_id, now)
            except rules.LedgerRuleError:
                logger.warning(
                    "refund paid by the provider exceeds the customer's credit; booked without ledger entry",
                    extra={"credit_note_id": record.credit_note_id},
                )
            else:
                booked_on = self._zones.business_date(now, stored.account.legal_entity_id)
                writes = posting_writes(stored, posting, {}, booked_on, now)
                creates, updates = writes.creates, writes.updates
                replaces += writes.replaces
                events += writes.events
            try:
                self._store.write(creates, replaces, updates=updates, events=events)
            except WriteConflictError:
                continue
            logger.info("credit note refunded", extra={"credit_note_id": record.credit_note_id})
            return done
        return record

    # ---- polling ---------------------------------------------------------------------------------------

    def poll(self, budget: int = POLL_BUDGET) -> PollReport:
        """Reconcile pending set-ups (and retry ones the provider never answered), charges due by
        tomorrow and open refunds, making at most ``budget`` provider round trips; a provider that is
        rate-limiting or down ends the run early."""
        report = PollReport()
        today = local_date(self._clock.now())
        # One query of the due index (set-ups and refunds from the day they opened, charges from the day
        # before they are due), oldest first; then the records themselves, a BatchGetItem per hundred.
        entries = list(islice(due_entries(POLL_RUN, today), budget))
        if not entries:
            return report
        found = self._store.batch_get((entry.pk, entry.sk) for entry in entries)
        try:
            for entry in entries:
                if report.provider_calls >= budget:
                    return report
                item = found.get((entry.pk, entry.sk))
                if item is None or item.doc is None:
                    continue  # no longer open: the index is eventually consistent
                self._poll_one(entry.shard, item, report)
        except ProviderUnavailableError as error:
            report.interrupted = str(error)
            logger.warning("payment provider unavailable; polling stops for now")
        return report

    def _poll_one(self, kind: int, item: DocumentItem, report: PollReport) -> None:
        """Reconcile one open set-up, charge or refund (one provider round trip)."""
        if kind == SETUP_TO_POLL:
            setup = item.document(PaymentSetup)
            report.provider_calls += 1
            if setup.state == SetupState.NEW:
                with contextlib.suppress(ProviderRejectedError, ValidationFailedError):
                    self.set_up(setup.order_id)
            else:
                self.reconcile_setup(setup.agreement_id)
            report.setups += 1
        elif kind == CHARGE_TO_POLL:
            record = item.document(ChargeRecord)
            if record.state != ChargeState.OPEN:
                return
            report.provider_calls += 1
            self.reconcile_charge(record.invoice_id)
            report.charges += 1
        elif kind == REFUND_TO_POLL:
            report.provider_calls += 1
            self._pay_back(item.document(RefundRecord))
            report.refunds += 1

    # ---- webhook events --------------------------------------------------------------------------------

    def process_event(self, message: dict[str, Any]) -> str:  # noqa: PLR0911 - one outcome per target
        """Act on one queued webhook event: find what it is about and fetch that from the provider."""
        provider = str(message.get("provider"))
        event_type = str(message.get("event_type"))
        if provider == "vipps":
            if message.get("charge_ref"):
                target = self._follow(provider, str(message["charge_ref"]))
                if target is not None and target[0].startswith("PAYCHARGE#"):
                    self.reconcile_charge(target[0].removeprefix("PAYCHARGE#"))
                    return "charge"
            if message.get("agreement_ref"):
                target = self._follow(provider, str(message["agreement_ref"]))
                if target is not None and target[0].startswith("PAYSETUP#"):
                    self.reconcile_setup(target[0].removeprefix("PAYSETUP#"))
                    return "agreement"
            return "unknown"
        if provider == "stripe":
            object_id = str(message.get("object_id") or "")
            target = self._follow(provider, object_id) if object_id else None
            if target is None:
                return "unknown"
            if target[0].startswith("PAYCHARGE#"):
                self.reconcile_charge(target[0].removeprefix("PAYCHARGE#"))
                return "charge"
            if target[0].startswith("PAYSETUP#"):
                self.reconcile_setup(target[0].removeprefix("PAYSETUP#"))
                return "agreement"
        logger.info("payment event ignored", extra={"provider": provider, "event_type": event_type})
        return "ignored"

    def _follow(self, provider: str, reference: str) -> tuple[str, str] | None:
        found = self._store.get(reference_lookup(provider, reference), "LOOKUP")
        if found is None or found.target_pk is None or found.target_sk is None:
            return None
        return found.target_pk, found.target_sk


def _retry_outcome(
    request: CardRetryRequest, invoice: Invoice | None, record: ChargeRecord | None
) -> str | None:
    """Why a card retry request is not charged (its outcome), ``waiting`` while the invoice's earlier
    charge is still open, or None: charge it."""
    if not _open(invoice):
        return "invoice_closed"
    if record is None or record.method != PaymentMethod.CARD:
        return "not_card"
    if record.attempt >= request.attempt or record.state in (ChargeState.PAID, ChargeState.CANCELLED):
        return "superseded"
    if record.state in OPEN_CHARGE:
        return "waiting"
    return None


def _open(invoice: Invoice | None) -> bool:
    """Whether an invoice is issued and still claims something (what a charge may collect)."""
    return (
        invoice is not None
        and invoice.kind == InvoiceKind.INVOICE
        and invoice.status == InvoiceStatus.ISSUED
        and invoice.open_amount > 0
    )


def event_message(
    provider: str,
    event_id: str,
    event_type: str,
    *,
    agreement_ref: str | None = None,
    charge_ref: str | None = None,
    object_id: str | None = None,
) -> str:
    """The queued message of one webhook event."""
    return json.dumps(
        {
            "provider": provider,
            "event_id": event_id,
            "event_type": event_type,
            "agreement_ref": agreement_ref,
            "charge_ref": charge_ref,
            "object_id": object_id,
        },
        sort_keys=True,
    )


def payment_service(services: Services) -> PaymentService:
    """The service from the container's collaborators; failed charges go to dunning."""

    def adapters(method: PaymentMethod) -> PaymentMethodAdapter:
        if method == PaymentMethod.VIPPS:
            return services.vipps
        if method == PaymentMethod.CARD:
            return services.stripe_cards
        raise ValidationFailedError(f"{method.value} is not paid through a payment provider")

    def failed_charge(invoice_id: str, method: PaymentMethod, reason: str, at: datetime) -> object:
        return services.dunning.service.record_failed_charge(invoice_id, method, reason, at)

    return PaymentService(
        services.documents, services.ledger, services.notifications, services.clock, adapters, failed_charge
    )
