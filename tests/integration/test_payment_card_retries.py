"""Dunning's card retries charged (``RetryCardCharges.charge_retries``, flows/charge_retries.py) against
the Stripe simulator.

A card payer's renewal is declined off session (``pm_card_chargeCustomerFail``: attaches, declines when
charged); dunning records the failure and, on the plan's first retry day, writes a retry request. The
customer's bank then takes the card again (the saved card becomes ``pm_card_visa``), so the retry pays the
invoice: one new PaymentIntent (metadata ``attempt`` 1), one payment in the ledger, however often, however
concurrently and wherever it crashes the job runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from chalicelib.container import Services
from chalicelib.dunning.index import dunning_shard
from chalicelib.dunning.plan_store import new_plan_id
from chalicelib.dunning.plans import DunningPlan, DunningStep, StepKind
from chalicelib.dunning.steps import CardRetryRequest, retry_partition, retry_request_keys
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.money import Currency
from chalicelib.payments.records import ChargeState, SetupState
from chalicelib.values import PaymentMethod
from infra.awscalls import InjectedCrash, fail_at_call
from tests.conftest import make_settings
from tests.integration.test_payment_charging_crash import ProviderFault, service
from tests.support.aws import fresh_resources
from tests.support.dunning import sent_mail
from tests.support.payment_world import (
    AMOUNT,
    SELLER,
    Payer,
    Simulators,
    bind,
    seed_payer,
    simulators,
    with_providers,
)

DAY = date(2027, 1, 1)  # the frozen test clock's day: the renewal is due, charged and declined
RETRY_DAY = DAY + timedelta(days=1)  # the plan retries one day after the failure
_numbers = iter(range(500, 10_000))


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    with simulators() as running:
        yield running


@dataclass
class World:
    services: Services
    payer: Payer

    @property
    def invoice_id(self) -> str:
        return self.payer.invoice.id


def use_card(sims: Simulators, payer: Payer, test_card: str) -> None:
    """The customer's saved card (the one charged off session) becomes ``test_card``."""
    client = sims.stripe_client
    card = client.v1.payment_methods.attach(test_card, {"customer": payer.agreement_ref})
    client.v1.customers.update(payer.agreement_ref, {"invoice_settings": {"default_payment_method": card.id}})


def intents(sims: Simulators, payer: Payer) -> list[dict[str, Any]]:
    """The payer's PaymentIntents for its invoice at Stripe, oldest first."""
    listed = sims.stripe_client.v1.payment_intents.list({"customer": payer.agreement_ref})
    found = [pi.to_dict() for pi in listed.auto_paging_iter()]
    mine = [pi for pi in found if pi["metadata"].get("invoice_id") == payer.invoice.id]
    return sorted(mine, key=lambda pi: int(pi["created"]))


DECLINES = {
    "pm_card_chargeCustomerFail": "generic_decline",
    "pm_card_authenticationRequired": "authentication_required",
}


def declined_then_requested(
    moto_endpoint: str, sims: Simulators, declining: str = "pm_card_chargeCustomerFail"
) -> World:
    """A card payer whose renewal was declined on ``DAY`` (by the saved card ``declining``), a retry request
    for ``RETRY_DAY`` written by the dunning run, and a card that pays off session from now on."""
    resources = fresh_resources(moto_endpoint)
    services = bind(with_providers(make_settings(resources), sims))
    services.ses.verify_email_identity(EmailAddress=services.settings.notification_from_address)
    payer = seed_payer(services, sims, PaymentMethod.CARD, next(_numbers), due=DAY)
    dunning = services.dunning
    plan = DunningPlan(
        id=new_plan_id(),
        name="Kort (NO)",
        country="NO",
        currency=Currency.NOK,
        payment_methods=(PaymentMethod.CARD,),
        card_retry_days=(1, 2),
        steps=(DunningStep(key="reminder-1", kind=StepKind.REMINDER, days=14),),
    )
    dunning.service.create_plan(SELLER, plan, default=True)
    use_card(sims, payer, declining)

    charged = services.payment_flows.charging.charge_due(DAY)
    assert charged.charged == [payer.invoice.id]
    found = services.payments.charge(payer.invoice.id)
    assert found is not None
    assert (found[0].state, found[0].attempt, found[0].decline_code) == ("failed", 0, DECLINES[declining])
    case = dunning.service.case(payer.invoice.id)
    assert (case.failed_charge_on, case.next_on) == (DAY, RETRY_DAY)

    [report] = [dunning.run.work(RETRY_DAY, dunning_shard(payer.invoice.id), RETRY_DAY, services.clock.now())]
    assert report.retried == [payer.invoice.id]
    listed = services.documents.query(retry_partition(RETRY_DAY), index="gsi1").items
    assert [item.sk for item in listed] == ["RETRY#01"]
    use_card(sims, payer, "pm_card_visa")
    return World(services, payer)


def request(world: World) -> CardRetryRequest:
    keys = retry_request_keys(world.invoice_id, 1)
    item = world.services.documents.get(keys.pk, keys.sk)
    assert item is not None
    return item.document(CardRetryRequest)


def assert_paid_once_by_the_retry(world: World, sims: Simulators) -> None:
    """Two PaymentIntents (the declined first, withdrawn; the retry, paid), one payment, nothing listed."""
    services = world.services
    assert [
        (pi["metadata"].get("attempt"), pi["status"], pi["amount"]) for pi in intents(sims, world.payer)
    ] == [(None, "canceled", AMOUNT), ("1", "succeeded", AMOUNT)]
    found = services.payments.charge(world.invoice_id)
    assert found is not None
    record = found[0]
    assert (record.state, record.attempt, record.paid_amount, record.failure_reason) == (
        "paid",
        1,
        AMOUNT,
        None,
    )
    assert record.charge_ref == intents(sims, world.payer)[1]["id"]
    invoice = services.subscriptions.invoice(world.invoice_id)
    assert (invoice.status, invoice.open_amount) == ("paid", 0)
    account = services.ledger.book().account(invoice.customer_id, SELLER, "NOK").account
    assert (account.balance, account.credit) == (0, 0)  # paid once: neither owed nor overpaid
    handled = request(world)
    assert (handled.outcome, handled.attempt) == ("attempted", 1)
    assert services.documents.query(retry_partition(RETRY_DAY), index="gsi1").items == []


def test_a_retry_request_charges_the_card_once_and_pays_the_invoice(
    moto_endpoint: str, sims: Simulators
) -> None:
    world = declined_then_requested(moto_endpoint, sims)

    report = world.services.payment_flows.retries.charge_retries(RETRY_DAY)

    assert (report.charged, report.skipped, report.interrupted) == ([world.invoice_id], 0, None)
    assert_paid_once_by_the_retry(world, sims)
    # The rerun (and the next days' runs, whose week looks back over the retry day) charge nothing more
    for day in (RETRY_DAY, RETRY_DAY + timedelta(days=1)):
        again = world.services.payment_flows.retries.charge_retries(day)
        assert (again.charged, again.resumed, again.skipped, again.waiting) == ([], [], 0, [])
    assert_paid_once_by_the_retry(world, sims)
    # The paid invoice is no longer dunned
    case = world.services.dunning.service.case(world.invoice_id)
    assert case.done == {f"dunning:{world.invoice_id}:retry-1": RETRY_DAY}


def test_two_concurrent_runs_charge_once(moto_endpoint: str, sims: Simulators) -> None:
    world = declined_then_requested(moto_endpoint, sims)
    runs = [service(world.services), service(world.services)]

    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda run: run.retries.charge_retries(RETRY_DAY), runs))

    assert sum(len(r.charged) + len(r.resumed) for r in reports) >= 1
    assert [r.charged for r in reports].count([world.invoice_id]) == 1
    # Whatever a run left (a 409 stops it) is finished.
    world.services.payment_flows.retries.charge_retries(RETRY_DAY)
    world.services.payment_flows.reconcile.reconcile_charge(world.invoice_id)
    assert_paid_once_by_the_retry(world, sims)


def test_a_crash_at_each_aws_call_then_a_rerun_charges_once(moto_endpoint: str, sims: Simulators) -> None:
    n = 1
    while True:
        world = declined_then_requested(moto_endpoint, sims)
        with fail_at_call(n) as fault, contextlib.suppress(InjectedCrash):
            service(world.services).retries.charge_retries(RETRY_DAY)
        rerun = bind(world.services.settings)  # a new Lambda instance
        report = service(rerun).retries.charge_retries(RETRY_DAY)
        assert report.interrupted is None
        # An attempt the crash left open (answered by Stripe, not yet applied) is settled by polling
        service(rerun).reconcile.reconcile_charge(world.invoice_id)
        assert_paid_once_by_the_retry(World(rerun, world.payer), sims)
        if not fault.fired:
            break
        n += 1
    # every call of a real run was crashed at (one query of the due index finds the day's requests), the
    # transition and the provider's answer too (15 calls since the payment and the record's move to paid
    # share one transaction)
    assert n > 12


@pytest.mark.parametrize("mode", ["before", "after", "crash-after"])
def test_a_failed_provider_call_at_each_step_then_a_rerun_charges_once(
    moto_endpoint: str, sims: Simulators, mode: str
) -> None:
    n = 1
    fired: list[str] = []
    while True:
        world = declined_then_requested(moto_endpoint, sims)
        fault = ProviderFault(n, mode)
        with contextlib.suppress(InjectedCrash):
            first = service(world.services, fault).retries.charge_retries(RETRY_DAY)
            if fault.fired is not None:
                assert first.interrupted is not None
        rerun = bind(world.services.settings)
        report = service(rerun).retries.charge_retries(RETRY_DAY)
        assert report.interrupted is None
        service(rerun).reconcile.reconcile_charge(world.invoice_id)
        assert_paid_once_by_the_retry(World(rerun, world.payer), sims)
        if fault.fired is None:
            break
        fired.append(fault.fired)
        n += 1
    # the earlier attempt's status, its withdrawal, the new charge
    assert [name.split(".")[1] for name in fired] == ["charge_status", "cancel_charge", "charge_invoice"]


def test_a_request_for_an_invoice_paid_meanwhile_charges_nothing(
    moto_endpoint: str, sims: Simulators
) -> None:
    world = declined_then_requested(moto_endpoint, sims)
    invoice = world.payer.invoice
    world.services.ledger.record_payment(
        IncomingPayment(
            source="ocr",
            source_reference="giro-retry-1",
            method=IncomingMethod.GIRO,
            amount=AMOUNT,
            currency=Currency.NOK,
            paid_on=RETRY_DAY,
            kid=invoice.kid,
            kid_valid=True,
            text="giro",
        )
    )

    report = world.services.payment_flows.retries.charge_retries(RETRY_DAY)

    assert (report.charged, report.skipped) == ([], 1)
    assert [pi["status"] for pi in intents(sims, world.payer)] == ["requires_payment_method"]
    assert request(world).outcome == "invoice_closed"
    found = world.services.payments.charge(world.invoice_id)
    assert found is not None and (found[0].state, found[0].attempt) == ("failed", 0)


def test_the_failed_intent_paid_on_session_meanwhile_is_applied_instead_of_a_retry(
    moto_endpoint: str, sims: Simulators
) -> None:
    # The bank asked for authentication off session: the customer got the link to pay on session
    world = declined_then_requested(moto_endpoint, sims, declining="pm_card_authenticationRequired")
    [failed] = intents(sims, world.payer)
    keys = [key for key, _ in sent_mail()]
    assert f"payments:{world.invoice_id}:action-required" in keys
    # and pays there (our page: Stripe.js confirms with a card and completes 3-D Secure)
    base, browser = sims.stripe.base_url, {"Authorization": "Bearer pk_test_abo_local"}
    secret = sims.stripe_client.v1.payment_intents.retrieve(failed["id"]).client_secret
    confirmed = requests.post(
        f"{base}/v1/payment_intents/{failed['id']}/confirm",
        data={"client_secret": secret, "payment_method": "pm_card_authenticationRequired"},
        headers=browser,
        timeout=30,
    )
    assert confirmed.status_code == 200, confirmed.text
    if confirmed.json()["status"] == "requires_action":
        authenticated = requests.post(
            f"{base}/v1/payment_intents/{failed['id']}/_authenticate",
            data={"client_secret": secret, "success": "true", "key": "pk_test_abo_local"},
            timeout=30,
        )
        assert authenticated.status_code == 200, authenticated.text

    report = world.services.payment_flows.retries.charge_retries(RETRY_DAY)

    assert (report.charged, report.skipped) == ([], 1)
    assert [pi["status"] for pi in intents(sims, world.payer)] == ["succeeded"]  # no new attempt
    assert request(world).outcome == "invoice_closed"
    found = world.services.payments.charge(world.invoice_id)
    assert found is not None
    assert (found[0].state, found[0].attempt, found[0].charge_ref) == ("paid", 0, failed["id"])
    invoice = world.services.subscriptions.invoice(world.invoice_id)
    assert (invoice.status, invoice.open_amount) == ("paid", 0)


def test_a_stopped_agreement_takes_the_request_off_and_tells_the_customer(
    moto_endpoint: str, sims: Simulators
) -> None:
    world = declined_then_requested(moto_endpoint, sims)
    flows = world.services.payment_flows
    world.services.stripe_cards.cancel_agreement(world.payer.agreement_ref)
    setup = flows.reconcile.reconcile_setup(world.payer.agreement_id)
    assert setup is not None and setup.state == SetupState.STOPPED

    report = flows.retries.charge_retries(RETRY_DAY)

    assert (report.charged, report.no_agreement) == ([], [world.invoice_id])
    assert request(world).outcome == "no_agreement"
    assert [pi["metadata"].get("attempt") for pi in intents(sims, world.payer)] == [None]
    keys = [key for key, _ in sent_mail()]
    assert f"payments:{world.invoice_id}:agreement-stopped" in keys
    found = world.services.payments.charge(world.invoice_id)
    assert found is not None and found[0].state == ChargeState.FAILED
