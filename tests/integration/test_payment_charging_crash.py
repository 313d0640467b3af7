"""The charging job crashed at each AWS call, and at each provider call, in turn; the rerun charges each
invoice exactly once (one charge at Vipps, one PaymentIntent at Stripe) and, once settled, the ledger has
one payment per invoice. A provider call fails either before the provider saw it, or after it processed
the request (the answer lost on the way back, or the process killed right after)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.catalog.zones import SellerZones
from chalicelib.container import Services
from chalicelib.flows.payment_context import PaymentContext
from chalicelib.flows.payment_flows import PaymentFlows, payment_flows
from chalicelib.payments.errors import ProviderUnavailableError
from chalicelib.payments.interface import PaymentMethodAdapter
from chalicelib.values import PaymentMethod
from infra.awscalls import InjectedCrash, fail_at_call
from infra.simulators.vipps import due_instant
from tests.conftest import make_settings
from tests.support.aws import fresh_resources
from tests.support.payment_world import Payer, Simulators, bind, seed_payer, simulators, with_providers


def due_day(sims: Simulators) -> date:
    """A due date two weeks after the Vipps simulator's clock (which only moves forward): charged on that
    day both invoices' charge dates have come (Vipps two days before, the card on the day)."""
    return (sims.vipps.now + timedelta(days=14)).date()


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    with simulators() as running:
        yield running


class ProviderFault:
    """Wraps the adapters: the n-th provider call (any method, either provider) fails once."""

    def __init__(self, n: int, mode: str) -> None:
        self.n = n
        self.mode = mode  # before | after | crash-after
        self.seen = 0
        self.fired: str | None = None

    def wrap(self, adapter: PaymentMethodAdapter) -> PaymentMethodAdapter:
        fault = self

        class Wrapped:
            provider = adapter.provider

            def __getattr__(self, name: str) -> Any:
                real: Callable[..., Any] = getattr(adapter, name)

                def call(*args: Any, **kwargs: Any) -> Any:
                    fault.seen += 1
                    if fault.seen != fault.n:
                        return real(*args, **kwargs)
                    fault.fired = f"{adapter.provider}.{name}"
                    if fault.mode == "before":
                        raise ProviderUnavailableError(
                            detail="injected: no answer", provider=adapter.provider
                        )
                    real(*args, **kwargs)  # the provider processed it ...
                    if fault.mode == "after":  # ... and the answer was lost
                        raise ProviderUnavailableError(detail="injected: connection dropped", provider="x")
                    raise InjectedCrash(f"injected crash after {fault.fired}")  # ... and we died

                return call

        return Wrapped()


def service(services: Services, fault: ProviderFault | None = None) -> PaymentFlows:
    def adapters(method: PaymentMethod) -> PaymentMethodAdapter:
        real: PaymentMethodAdapter = (
            services.vipps if method == PaymentMethod.VIPPS else services.stripe_cards
        )
        return fault.wrap(real) if fault is not None else real

    def failed_charge(invoice_id: str, method: PaymentMethod, reason: str, at: datetime) -> object:
        return services.dunning.service.record_failed_charge(invoice_id, method, reason, at)

    store = services.documents
    return payment_flows(
        PaymentContext(
            store,
            services.ledger,
            services.notifications,
            services.clock,
            adapters,
            failed_charge,
            SellerZones(store),
        )
    )


_numbers = iter(range(1, 10_000))


def world(moto_endpoint: str, sims: Simulators) -> tuple[Services, date, list[Payer]]:
    resources = fresh_resources(moto_endpoint)
    services = bind(with_providers(make_settings(resources), sims))
    due = due_day(sims)
    payers = [
        seed_payer(services, sims, method, next(_numbers), due=due)
        for method in PaymentMethod
        if method in (PaymentMethod.VIPPS, PaymentMethod.CARD)
    ]
    return services, due, payers


def charges_at_providers(sims: Simulators, payer: Payer) -> int:
    invoice_id = payer.invoice.id
    if payer.method == PaymentMethod.VIPPS:
        return sum(1 for c in sims.vipps.charges.values() if c.external_id == invoice_id)
    listed = sims.stripe_client.v1.payment_intents.list({"customer": payer.agreement_ref})
    return sum(1 for pi in listed.auto_paging_iter() if pi.metadata.to_dict().get("invoice_id") == invoice_id)


def settle_and_check(services: Services, sims: Simulators, payers: list[Payer], due: date) -> None:
    """Vipps takes its charges on the due date; polling picks both up; one payment each in the ledger."""
    sims.vipps.advance(due_instant(due) + timedelta(hours=1))
    payments = service(services)
    for payer in payers:
        assert charges_at_providers(sims, payer) == 1, payer
        record = payments.reconcile.reconcile_charge(payer.invoice.id)
        assert record is not None and record.state == "paid", (payer, record)
        again = payments.reconcile.reconcile_charge(payer.invoice.id)
        assert again is not None and again.payment_id == record.payment_id
        account = services.ledger.book().account(payer.invoice.customer_id, "ent_seed", "NOK").account
        assert (account.balance, account.credit) == (0, 0), payer  # paid once: neither owed nor overpaid
    for payer in payers:
        invoice = services.subscriptions.invoice(payer.invoice.id)
        assert (invoice.status, invoice.open_amount) == ("paid", 0)


def test_a_crash_at_each_aws_call_then_a_rerun_charges_each_invoice_once(
    moto_endpoint: str, sims: Simulators
) -> None:
    n = 1
    while True:
        services, due, payers = world(moto_endpoint, sims)
        with fail_at_call(n) as fault, contextlib.suppress(InjectedCrash):
            service(services).charging.charge_due(due)
        rerun = bind(services.settings)  # a new Lambda instance
        report = service(rerun).charging.charge_due(due)
        assert report.interrupted is None
        settle_and_check(rerun, sims, payers, due)
        if not fault.fired:
            break
        n += 1
    assert n > 10  # every call of a real run was crashed at


@pytest.mark.parametrize("mode", ["before", "after", "crash-after"])
def test_a_failed_provider_call_at_each_step_then_a_rerun_charges_each_invoice_once(
    moto_endpoint: str, sims: Simulators, mode: str
) -> None:
    n = 1
    fired: list[str] = []
    while True:
        services, due, payers = world(moto_endpoint, sims)
        fault = ProviderFault(n, mode)
        with contextlib.suppress(InjectedCrash):
            first = service(services, fault).charging.charge_due(due)
            if fault.fired is not None:
                assert first.interrupted is not None
        rerun = bind(services.settings)
        report = service(rerun).charging.charge_due(due)
        assert report.interrupted is None
        settle_and_check(rerun, sims, payers, due)
        if fault.fired is None:
            break
        fired.append(fault.fired)
        n += 1
    assert any(name.startswith("vipps.charge_invoice") for name in fired)
    assert any(name.startswith("stripe.charge_invoice") for name in fired)
