"""Payers of Vipps and card invoices seeded straight into the store, with a live agreement at the local
simulators (an approved Vipps agreement, a Stripe customer with a saved ``pm_card_visa``): what the
charging job, the webhook worker and the polling job start from. For the crash and webhook tests and for
``bench/payments.py``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from pydantic import SecretStr
from stripe import StripeClient

from chalicelib.billing.models import DatePeriod, Invoice
from chalicelib.container import Services, set_services
from chalicelib.customers.models import Customer
from chalicelib.money import Currency, Money
from chalicelib.payments.interface import AgreementRequest, InvoiceCharge, PeriodUnit
from chalicelib.payments.records import (
    PaymentSetup,
    SetupState,
    charge_index_writes,
    reference_item,
    setup_item,
    setup_keys,
)
from chalicelib.settings import Settings, StripeSettings
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, document_item
from chalicelib.subscriptions.models import (
    AgreementStatus,
    PaymentAgreement,
    Phase,
    Subscription,
    SubscriptionStatus,
)
from chalicelib.subscriptions.writes import subscription_item
from chalicelib.values import PaymentMethod
from infra.simulators.stripe import StripeSimulator
from infra.simulators.vipps import VippsSimulator
from tests.support.ledger import SEED_AT, invoice_items, make_invoice, seed_customer, seed_seller
from tests.support.vipps import (
    CLIENT_ID,
    CLIENT_SECRET,
    MSN,
    SUBSCRIPTION_KEY,
    WEBHOOK_SECRET,
    vipps_settings,
)

STRIPE_KEY = "sk_test_abo_payment_world"
SELLER = "ent_seed"
DUE = date(2027, 1, 15)  # the charging job (Vipps two days ahead, cards on the day) runs from 13 January
AMOUNT = 29900


@dataclass
class Simulators:
    """The two providers, running."""

    vipps: VippsSimulator
    stripe: StripeSimulator

    @property
    def stripe_client(self) -> StripeClient:
        """Our own view of Stripe (to play the customer and to count what is there)."""
        return StripeClient(STRIPE_KEY, base_addresses={"api": self.stripe.base_url}, max_network_retries=0)


@contextmanager
def simulators() -> Iterator[Simulators]:
    """A Vipps simulator (its clock on 1 January 2027) and a Stripe simulator, stopped afterwards."""
    with ExitStack() as stack:
        vipps = VippsSimulator(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            subscription_key=SUBSCRIPTION_KEY,
            merchant_serial_number=MSN,
            webhook_secret=WEBHOOK_SECRET,
            start=SEED_AT,
        )
        vipps.start()
        stack.callback(vipps.stop)
        card = StripeSimulator(secret_key=STRIPE_KEY)
        card.start()
        stack.callback(card.stop)
        yield Simulators(vipps, card)


def with_providers(settings: Settings, sims: Simulators) -> Settings:
    """``settings`` pointed at the simulators (no retries of our own: each provider call is one request)."""
    vipps = vipps_settings(sims.vipps.public_url, backoff_seconds=0, max_attempts=1)
    card = StripeSettings(
        api_base=sims.stripe.base_url,
        secret_key=SecretStr(STRIPE_KEY),
        webhook_secret=SecretStr("whsec_payment_world"),
        payment_page_url="https://abo.example/pay/card",
        max_network_retries=0,
        timeout_seconds=10,
    )
    return settings.model_copy(update={"vipps": vipps, "stripe": card})


def bind(settings: Settings) -> Services:
    """A fresh container on ``settings`` (as a new Lambda instance would start)."""
    services = Services(settings)
    set_services(services)
    return services


@dataclass(frozen=True)
class Payer:
    """A seeded payer: the invoice to charge and the agreement at the provider."""

    method: PaymentMethod
    invoice: Invoice
    agreement_id: str
    agreement_ref: str


def provider_agreement(services: Services, sims: Simulators, method: PaymentMethod, number: int) -> str:
    """An agreement the provider holds as active: an approved Vipps agreement (no initial charge), or a
    Stripe customer whose default card is ``pm_card_visa``."""
    if method == PaymentMethod.VIPPS:
        free = InvoiceCharge(f"inv_free_{number}", Money(0, Currency.NOK), "Prøveperiode", SEED_AT.date())
        request = AgreementRequest(
            f"agr_pw_{number}", "Nordavisa digital", Money(AMOUNT, Currency.NOK), PeriodUnit.MONTH, 1, free
        )
        ref = services.vipps.set_up_agreement(request).agreement_ref
        sims.vipps.approve(ref)
        return ref
    client = sims.stripe_client
    customer = client.v1.customers.create({"description": f"payer {number}"})
    method_id = client.v1.payment_methods.attach("pm_card_visa", {"customer": customer.id}).id
    services.stripe_cards.make_default(customer.id, method_id)
    return str(customer.id)


def agreement_world(
    customer: Customer,
    method: PaymentMethod,
    number: int,
    ref: str,
    *,
    active: bool,
    start: date,
    invoiced: DatePeriod,
) -> tuple[Subscription, list[DocumentItem]]:
    """Payer ``number``'s subscription paid by ``method``, and the items of it, our agreement, the
    set-up and its provider reference: all active, or all pending (the provider has not confirmed)."""
    agreement_id = f"agr_pw_{number}"
    provider = "vipps" if method == PaymentMethod.VIPPS else "stripe"
    agreement = PaymentAgreement(
        id=agreement_id,
        customer_id=customer.id,
        method=method,
        status=AgreementStatus.ACTIVE if active else AgreementStatus.PENDING,
        provider_reference=ref,
        created_at=SEED_AT,
    )
    subscription = Subscription(
        id=f"sub_pw_{number}",
        customer_id=customer.id,
        customer_number=customer.number,
        legal_entity_id=SELLER,
        offer_id="off_pw",
        order_id=f"ord_pw_{number}",
        product_ids=["prd_news"],
        status=SubscriptionStatus.ACTIVE if active else SubscriptionStatus.PENDING,
        payment_method=method,
        agreement_id=agreement_id,
        currency="NOK",
        start_date=start,
        phases=[Phase(plan_id="pln_pw", start=start)],
        invoiced_period=invoiced,
        created_at=min(SEED_AT, datetime.combine(start, SEED_AT.timetz())),  # ordered when it started
    )
    setup = PaymentSetup(
        agreement_id=agreement_id,
        method=method,
        provider=provider,
        order_id=subscription.order_id,
        subscription_id=subscription.id,
        customer_id=customer.id,
        first_invoice_id=f"inv_pw_first_{number}",
        state=SetupState.ACTIVE if active else SetupState.PENDING,
        provider_reference=ref,
        created_at=SEED_AT,
        updated_at=SEED_AT,
    )
    return subscription, [
        subscription_item(subscription),
        document_item("agreement", keys.agreement(agreement_id), agreement, status=agreement.status),
        setup_item(setup),
        reference_item(provider, ref, setup_keys(agreement_id)),
    ]


def seed_payer(
    services: Services, sims: Simulators, method: PaymentMethod, number: int, *, due: date = DUE
) -> Payer:
    """A customer with a subscription paid by ``method``, its active agreement (ours and the provider's)
    and an issued invoice on the ledger, in the charge index."""
    if services.documents.get(keys.legal_entity(SELLER).pk, "ENTITY") is None:
        seed_seller(services, SELLER)
    customer: Customer = seed_customer(services, f"cus_pw_{number}", 10_000 + number)
    ref = provider_agreement(services, sims, method, number)
    subscription, agreement_writes = agreement_world(
        customer,
        method,
        number,
        ref,
        active=True,
        start=date(2026, 12, 15),
        invoiced=DatePeriod(start=date(2027, 1, 15), end=date(2027, 2, 15)),
    )
    invoice = make_invoice(customer, 1000 + number, AMOUNT, entity_id=SELLER).model_copy(
        update={
            "id": f"inv_pw_{number}",
            "payment_method": method,
            "subscription_id": subscription.id,
            "due_date": due,
        }
    )
    ledger = services.ledger.invoice_issued_writes(invoice)
    issued = ledger.invoice or invoice
    creates = [
        *invoice_items(issued),
        *charge_index_writes(issued),
        *agreement_writes,
        *ledger.creates,
    ]
    services.documents.write(creates, ledger.replaces, updates=ledger.updates)
    return Payer(method, issued, subscription.agreement_id, ref)
