"""Scenario: Ola orders with a card. On our payment page Stripe.js confirms the first PaymentIntent with
``pm_card_visa``; Stripe's webhook makes the agreement active and the first invoice paid (the card is
saved for later). Three monthly renewals are then charged off session on their due dates and paid in the
ledger, one PaymentIntent each."""

from __future__ import annotations

import stripe

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.support.payments import (
    advance,
    intent_id,
    invoices,
    monthly_offer,
    order,
    pay_on_page,
    vipps_traffic_kept_to_the_spec,
    wait_for,
)


def test_card_order_paid_on_session_then_three_renewals_charged_off_session(
    api: Api, stack: LocalStack
) -> None:
    catalog = monthly_offer(api)
    placed = order(api, catalog["offer"]["id"], "card", "ola.card@example.no", key="card-order-1")
    redirect = placed["payment"]["redirect_url"]
    assert stack.stripe is not None
    assert redirect.startswith(f"{stack.stripe.base_url}/pay/pi_")
    subscription = api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()
    assert subscription["status"] == "pending"

    confirmed = pay_on_page(stack, redirect, "pm_card_visa")
    assert (confirmed["status"], confirmed["amount"]) == ("succeeded", 29900)

    wait_for(
        lambda: api.get(f"/v1/invoices/{placed['invoice_id']}").json()["status"] == "paid",
        what="the first invoice paid",
    )
    assert api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()["status"] == "active"

    for day in ("2027-02-01", "2027-03-01", "2027-04-01"):
        advance(api, day)

    issued = invoices(api, placed["customer_id"])
    renewals = [inv for inv in issued if inv["id"] != placed["invoice_id"] and inv["status"] != "draft"]
    assert [(inv["due_date"], inv["status"]) for inv in renewals] == [
        ("2027-02-01", "paid"),
        ("2027-03-01", "paid"),
        ("2027-04-01", "paid"),
    ]
    client = stripe.StripeClient(
        stack.stripe.secret_key, base_addresses={"api": stack.stripe.base_url}, max_network_retries=0
    )
    setup = stack.services.payments.setup(subscription["agreement_id"])
    assert setup is not None and setup[0].provider_reference is not None
    intents = [
        pi.to_dict()
        for pi in client.v1.payment_intents.list({"customer": setup[0].provider_reference}).auto_paging_iter()
    ]
    by_invoice = sorted(
        (str(pi["metadata"]["invoice_id"]), pi["status"], pi["amount"], pi["payment_method"])
        for pi in intents
        if pi["id"] != intent_id(redirect)
    )
    saved = stack.services.stripe_cards.saved_card(setup[0].provider_reference)
    assert by_invoice == sorted((inv["id"], "succeeded", 29900, saved) for inv in renewals)
    for renewal in renewals:
        record = stack.services.payments.charge(renewal["id"])
        assert record is not None and record[0].state == "paid" and record[0].paid_amount == 29900
    ledger = api.get(f"/v1/customers/{placed['customer_id']}/ledger").json()
    assert [e["kind"] for e in ledger["entries"]].count("payment_received") == 4
    assert ledger["balance"]["amount"] == 0
    assert vipps_traffic_kept_to_the_spec(stack) == 0  # a card order never calls Vipps
