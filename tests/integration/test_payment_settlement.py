"""Settling a renewal's charge: the ledger payment and the charge record's move to ``paid`` are one
transaction, read in two round trips (the record with its invoice, then the account, the seller's ledger
settings and the seller), and a record that changed since it was read, or a payment recorded before
without it, still ends in one payment and a paid record. A Vipps webhook names its charge by the
invoice's orderId: the worker reads the record without the reference lookup, and a charge id that is not
one of ours changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from chalicelib.clock import FixedClock
from chalicelib.container import Services
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.payments.intake import event_message
from chalicelib.payments.reading import PaymentRecords
from chalicelib.payments.records import ChargeState, charge_item
from chalicelib.payments.vipps import order_id_for
from chalicelib.values import PaymentMethod
from infra.awscalls import count_aws_requests, install
from infra.simulators.vipps import due_instant
from tests.conftest import make_settings
from tests.support.aws import fresh_resources
from tests.support.payment_world import Payer, Simulators, bind, seed_payer, simulators, with_providers

_numbers = iter(range(700, 10_000))


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    with simulators() as running:
        yield running


def taken_charge(moto_endpoint: str, sims: Simulators) -> tuple[Services, Payer]:
    """A Vipps renewal charged by the job and taken by Vipps on its due date, not yet settled here."""
    services = bind(with_providers(make_settings(fresh_resources(moto_endpoint)), sims))
    due = (sims.vipps.now + timedelta(days=14)).date()
    payer = seed_payer(services, sims, PaymentMethod.VIPPS, next(_numbers), due=due)
    report = services.payment_flows.charging.charge_due(due - timedelta(days=2))
    assert report.charged == [payer.invoice.id]
    sims.vipps.advance(due_instant(due) + timedelta(hours=1))
    return services, payer


def assert_paid_once(services: Services, payer: Payer, payment_id: str | None = None) -> None:
    found = PaymentRecords(services.documents).charge(payer.invoice.id)
    assert found is not None
    record = found[0]
    assert record.state == ChargeState.PAID and record.payment_id is not None
    assert payment_id is None or record.payment_id == payment_id
    account = services.ledger.book().account(payer.invoice.customer_id, "ent_seed", "NOK").account
    assert (account.balance, account.credit) == (0, 0)  # paid once: neither owed nor overpaid
    invoice = services.subscriptions.invoice(payer.invoice.id)
    assert (invoice.status, invoice.open_amount) == ("paid", 0)


def test_a_taken_charge_settles_in_one_transaction_after_two_reads(
    moto_endpoint: str, sims: Simulators
) -> None:
    install()
    services, payer = taken_charge(moto_endpoint, sims)
    fresh = bind(services.settings)  # a new Lambda instance: nothing cached
    fresh.clock = FixedClock(services.clock.now())  # production's clock reads nothing (the test clock does)
    with count_aws_requests() as counter:
        record = fresh.payment_flows.reconcile.reconcile_charge(payer.invoice.id)
    assert record is not None and record.state == ChargeState.PAID
    dynamodb = {name: n for name, n in counter.by_operation().items() if name.startswith("dynamodb.")}
    assert dynamodb == {"dynamodb.BatchGetItem": 2, "dynamodb.TransactWriteItems": 1}
    assert_paid_once(services, payer)


def test_a_record_changed_since_it_was_read_is_read_again_and_paid_once(
    moto_endpoint: str, sims: Simulators
) -> None:
    services, payer = taken_charge(moto_endpoint, sims)
    records = PaymentRecords(services.documents)
    stale = records.charge_and_invoice(payer.invoice.id)
    assert stale is not None and stale.record.charge_ref is not None
    # Another worker touches the record after this one read it (a newer provider status, say).
    touched = stale.record.model_copy(update={"provider_status": "RESERVED"})
    services.documents.write([], [(charge_item(touched, stale.version), stale.version)])
    result = services.vipps.charge_status(stale.record.agreement_ref, stale.record.charge_ref)
    record = services.payment_flows.reconcile.apply_charge(payer.invoice.id, result, stale)
    assert record is not None and record.state == ChargeState.PAID
    assert_paid_once(services, payer)


def test_a_payment_recorded_before_without_the_record_still_marks_it_paid(
    moto_endpoint: str, sims: Simulators
) -> None:
    services, payer = taken_charge(moto_endpoint, sims)
    found = PaymentRecords(services.documents).charge(payer.invoice.id)
    assert found is not None and found[0].charge_ref is not None
    charge_ref = found[0].charge_ref
    # The same charge's payment, recorded on its own (as before the two shared one transaction).
    earlier = services.ledger.record_payment(
        IncomingPayment(
            source="vipps",
            source_reference=charge_ref,
            method=IncomingMethod.VIPPS,
            amount=payer.invoice.open_amount,
            currency=payer.invoice.currency,
            paid_on=payer.invoice.due_date,
            kid=payer.invoice.kid,
            kid_valid=True,
        )
    )
    record = services.payment_flows.reconcile.reconcile_charge(payer.invoice.id)
    assert record is not None and record.state == ChargeState.PAID
    assert_paid_once(services, payer, earlier.payment.id)


def vipps_message(payer: Payer, charge_ref: str) -> dict[str, object]:
    """The queued message of Vipps' ``recurring.charge-captured.v1`` webhook for ``charge_ref``."""
    message: dict[str, object] = json.loads(
        event_message(
            "vipps",
            f"vipps-captured-{charge_ref}",
            "recurring.charge-captured.v1",
            agreement_ref=payer.agreement_ref,
            charge_ref=charge_ref,
        )
    )
    return message


def test_a_vipps_webhook_finds_its_charge_by_the_invoice_id_it_carries(
    moto_endpoint: str, sims: Simulators
) -> None:
    install()
    services, payer = taken_charge(moto_endpoint, sims)
    found = PaymentRecords(services.documents).charge(payer.invoice.id)
    assert found is not None and found[0].charge_ref is not None
    fresh = bind(services.settings)  # a new Lambda instance: nothing cached
    fresh.clock = FixedClock(services.clock.now())
    with count_aws_requests() as counter:
        outcome = fresh.payment_flows.webhook.process_event(vipps_message(payer, found[0].charge_ref))
    assert outcome == "charge"
    dynamodb = {name: n for name, n in counter.by_operation().items() if name.startswith("dynamodb.")}
    # no reference lookup: Vipps' charge id is the invoice's orderId
    assert dynamodb == {"dynamodb.BatchGetItem": 2, "dynamodb.TransactWriteItems": 1}
    assert_paid_once(services, payer)


def test_a_vipps_charge_id_that_names_no_charge_of_ours_changes_nothing(
    moto_endpoint: str, sims: Simulators
) -> None:
    services, payer = taken_charge(moto_endpoint, sims)
    # Another invoice's id form, and an id that is no invoice's at all: neither is this charge's, so the
    # worker reconciles the agreement the event names (as for any charge it does not know).
    for charge_ref in (order_id_for("inv_NOT_OURS"), "chr-4711"):
        outcome = services.payment_flows.webhook.process_event(vipps_message(payer, charge_ref))
        assert outcome == "agreement"
    found = PaymentRecords(services.documents).charge(payer.invoice.id)
    assert found is not None and found[0].state == ChargeState.OPEN
