"""Setting up an order's payment agreement with its provider (Vipps or a card through Stripe): ask the
provider for the agreement, with the first invoice as its first payment, and store its reference and the
URL where the customer confirms it. The call is keyed by the agreement's id, so a repeat (the order route,
``POST /v1/orders/{id}/payment`` or the polling job) gets the same agreement.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.catalog.models import Plan
from chalicelib.errors import NotFoundError, ValidationFailedError
from chalicelib.flows.payment_context import ATTEMPTS, PaymentContext, invoice_charge
from chalicelib.money import Money
from chalicelib.observability import logger
from chalicelib.orders.models import Order
from chalicelib.payments.errors import ProviderError, ProviderRejectedError
from chalicelib.payments.interface import AgreementRequest, AgreementSetup, PeriodUnit
from chalicelib.payments.records import (
    ChargeRecord,
    ChargeState,
    PaymentSetup,
    SetupState,
    charge_item,
    charge_keys,
    reference_item,
    setup_item,
    setup_keys,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, WriteConflictError, document_item
from chalicelib.subscriptions.models import PaymentAgreement, Subscription
from chalicelib.values import PaymentMethod


class SetUpPayment:
    """Sets an order's agreement up at its provider."""

    def __init__(self, ctx: PaymentContext) -> None:
        self._ctx = ctx
        self._records = ctx.records

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
            return self._ctx.order(order.id)[0]

    def set_up(self, order_id: str) -> Order:
        """Ask the provider for the order's agreement (first invoice as its first payment) and store its
        reference and the customer's confirmation URL; a repeat returns what the first call stored.
        Raises :class:`ProviderUnavailableError` while the provider is down (the order stays as it is and
        the polling job retries), :class:`ProviderRejectedError` when it refuses (the set-up is failed)."""
        order, _ = self._ctx.order(order_id)
        found = self._records.setup(order.agreement_id)
        if found is None:
            raise NotFoundError(f"order {order_id} is not paid through a payment provider")
        setup, _ = found
        if setup.state != SetupState.NEW:
            return order
        try:
            request = self._agreement_request(setup)
            result = self._ctx.adapter(setup.method).set_up_agreement(request)
        except (ProviderRejectedError, ValidationFailedError) as error:
            self._fail_setup(setup.agreement_id, str(error))
            raise
        for _ in range(ATTEMPTS):
            order, order_version = self._ctx.order(order_id)
            current = self._records.setup(order.agreement_id)
            if current is None or current[0].state != SetupState.NEW:
                return order
            setup, version = current
            updated_order, creates, replaces = self._pending_writes(
                order, order_version, setup, version, result
            )
            try:
                self._ctx.store.write(creates, replaces)
            except WriteConflictError:
                continue
            logger.info(
                "payment agreement set up",
                extra={"agreement_id": setup.agreement_id, "provider": setup.provider},
            )
            return updated_order
        return self._ctx.order(order_id)[0]

    def _pending_writes(
        self, order: Order, order_version: int, setup: PaymentSetup, version: int, result: AgreementSetup
    ) -> tuple[Order, list[DocumentItem], list[tuple[DocumentItem, int]]]:
        """NEW → PENDING: the set-up with the provider's reference, our agreement naming it, the order
        with the confirmation URL, the reference's lookup (and the first charge's, when the provider
        made one with the agreement)."""
        now = self._ctx.clock.now()
        pending = setup.model_copy(
            update={
                "state": SetupState.PENDING,
                "provider_reference": result.agreement_ref,
                "redirect_url": result.confirmation_url,
                "first_charge_ref": result.first_charge_ref,
                "updated_at": now,
            }
        )
        agreement_item = self._ctx.versioned(keys.agreement(setup.agreement_id).pk, "AGREEMENT")
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
        return updated_order, creates, replaces

    def _first_charge(
        self, setup: PaymentSetup, pending: PaymentSetup, charge_ref: str, now: datetime
    ) -> ChargeRecord:
        invoice = self._ctx.invoice(setup.first_invoice_id)
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
        subscription = self._ctx.store.get_document(
            keys.subscription(setup.subscription_id).pk, "SUB", Subscription
        )
        invoice = self._ctx.invoice(setup.first_invoice_id)
        if subscription is None or invoice is None:
            raise NotFoundError(f"the subscription or first invoice of agreement {setup.agreement_id}")
        phase = subscription.phases[-1]
        plan = self._ctx.store.get_document(keys.plan(phase.plan_id).pk, "PLAN", Plan)
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
            first_invoice=invoice_charge(invoice),
            product_description=f"{plan.name} x {quantity}" if quantity > 1 else None,
        )

    def _fail_setup(self, agreement_id: str, reason: str) -> None:
        for _ in range(ATTEMPTS):
            found = self._records.setup(agreement_id)
            if found is None or found[0].state != SetupState.NEW:
                return
            setup, version = found
            failed = setup.model_copy(
                update={
                    "state": SetupState.FAILED,
                    "failure": reason[:500],
                    "updated_at": self._ctx.clock.now(),
                }
            )
            try:
                self._ctx.store.write([], [(setup_item(failed, version), version)])
                return
            except WriteConflictError:
                continue
