"""Card charges against the Stripe simulator record their events with their change: a declined charge
``payment.failed`` with the charge record's move to ``failed``, a paid charge ``payment.received`` and
``invoice.paid`` with its ledger payment, a credit note paid back through the provider
``payment.refunded`` with the refund record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from chalicelib.container import Services
from chalicelib.payments.records import ChargeState, RefundState
from chalicelib.values import PaymentMethod
from tests.conftest import make_settings
from tests.support.aws import fresh_resources
from tests.support.events import recorded_events
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

DAY = date(2027, 1, 1)  # the frozen test clock's day: the invoice is charged on it


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    with simulators() as running:
        yield running


@pytest.fixture
def card_services(moto_endpoint: str, sims: Simulators) -> Services:
    services = bind(with_providers(make_settings(fresh_resources(moto_endpoint)), sims))
    services.ses.verify_email_identity(EmailAddress=services.settings.notification_from_address)
    return services


def events(type_: str) -> list[dict[str, Any]]:
    return [event.as_json() for event in recorded_events() if event.type.value == type_]


def saved_card(sims: Simulators, payer: Payer, test_card: str) -> None:
    """The customer's card charged off session becomes ``test_card``."""
    client = sims.stripe_client
    card = client.v1.payment_methods.attach(test_card, {"customer": payer.agreement_ref})
    client.v1.customers.update(payer.agreement_ref, {"invoice_settings": {"default_payment_method": card.id}})


def test_a_declined_card_records_payment_failed_once(card_services: Services, sims: Simulators) -> None:
    payer = seed_payer(card_services, sims, PaymentMethod.CARD, 1, due=DAY)
    saved_card(sims, payer, "pm_card_chargeCustomerFail")

    assert card_services.payment_flows.charging.charge_due(DAY).charged == [payer.invoice.id]

    found = card_services.payments.charge(payer.invoice.id)
    assert found is not None and found[0].state == ChargeState.FAILED
    assert [(e["legal_entity_id"], e["data"]) for e in events("payment.failed")] == [
        (
            SELLER,
            {
                "payment_id": payer.invoice.id,  # the attempt's own key: the invoice's first charge
                "customer_id": payer.invoice.customer_id,
                "invoice_id": payer.invoice.id,
                "amount": {"amount": AMOUNT, "currency": "NOK"},
                "method": "card",
                "reason": found[0].failure_reason,
            },
        )
    ]
    assert events("payment.received") == [] and events("invoice.paid") == []
    # The charge is reconciled again (a webhook redelivered): it changes nothing, so nothing is recorded
    before = recorded_events()
    card_services.payment_flows.reconcile.reconcile_charge(payer.invoice.id)
    assert recorded_events() == before


def test_a_paid_charge_and_its_refund_record_received_paid_and_refunded(
    card_services: Services, sims: Simulators
) -> None:
    # Given a card payer whose invoice is charged and paid
    payer = seed_payer(card_services, sims, PaymentMethod.CARD, 2, due=DAY)
    assert card_services.payment_flows.charging.charge_due(DAY).charged == [payer.invoice.id]
    found = card_services.payments.charge(payer.invoice.id)
    assert found is not None and found[0].state == ChargeState.PAID
    # Then the payment is received by card and the invoice paid
    [received] = events("payment.received")
    assert (received["legal_entity_id"], received["data"]) == (
        SELLER,
        {
            "payment_id": found[0].payment_id,
            "customer_id": payer.invoice.customer_id,
            "amount": {"amount": AMOUNT, "currency": "NOK"},
            "method": "card",
            "received_on": DAY.isoformat(),
            "invoice_ids": [payer.invoice.id],
        },
    )
    assert [e["data"]["invoice_id"] for e in events("invoice.paid")] == [payer.invoice.id]
    assert events("payment.failed") == []
    # When the invoice is credited and the credit note paid back through Stripe
    credit_note = card_services.credit_notes.issue(payer.invoice.id, None)
    refund = card_services.payment_flows.refund.refund_credit_note(credit_note)
    assert refund is not None and refund.state == RefundState.DONE
    # Then the refund is recorded once, with the credit note as its key
    assert [(e["legal_entity_id"], e["data"]) for e in events("payment.refunded")] == [
        (
            SELLER,
            {
                "payment_id": credit_note.id,
                "customer_id": payer.invoice.customer_id,
                "amount": {"amount": AMOUNT, "currency": "NOK"},
                "method": "card",
            },
        )
    ]
    before = recorded_events()
    card_services.payment_flows.refund.refund_credit_note(credit_note)
    assert recorded_events() == before
