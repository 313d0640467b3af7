"""A declined card is retried on the plan's retry days, then reminded.

Ola orders a weekly subscription (NOK 79 a week from Friday 1 January 2027) paid by card and pays the first
invoice on our payment page (``pm_card_visa``). Before the next week his bank stops the card: the saved
card now declines every off-session charge (``pm_card_chargeCustomerFail``). The seller's card dunning plan
retries a declined card one and two days after the failure, then sends a reminder (no fee: the law allows
one 14 days after the due date at the earliest) three days after it.

| Day        | 03:00 UTC dunning run              | 05:00 UTC charging job                                 |
|------------|------------------------------------|--------------------------------------------------------|
| 2027-01-08 | (renewal issued 01:00, due today)  | off-session charge declined: dunning starts            |
| 2027-01-09 | retry 1 requested                  | retry 1 charged: declined (a PaymentIntent of its own) |
| 2027-01-10 | retry 2 requested                  | retry 2 charged: declined                              |
| 2027-01-11 | reminder sent                      |                                                        |

Each retry withdraws the attempt before it (its PaymentIntent is cancelled, so that an old link cannot pay
the invoice a second time); the retries tell the customer nothing (a plain decline), the reminder does.
"""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.scenario.dunning.conftest import advance, case, invoice, mail, outbox, text_of
from tests.support.payments import SELLER, pay_on_page, wait_for

PRICE = 7900
EMAIL = "ola.kort@example.no"


@pytest.fixture(scope="module")
def payment_simulators() -> bool:
    """This module's stack runs the Stripe (and Vipps) simulators."""
    return True


def weekly_card_offer(api: Api) -> tuple[str, str]:
    """A seller, a weekly plan offered with a card, and the seller's card dunning plan: (offer, seller)."""
    seller = api.created("/v1/legal-entities", SELLER)
    news = api.created("/v1/products", {"name": "Nordavisa", "kind": "digital", "vat_rate_code": "news"})
    plan = api.created(
        "/v1/plans",
        {
            "name": "Nordavisa uke",
            "product_ids": [news["id"]],
            "currency": "NOK",
            "price": {"amount": PRICE},
            "period": {"unit": "week", "count": 1},
        },
    )
    offer = api.created(
        "/v1/offers",
        {"name": "Uke", "plan_id": plan["id"], "payment_methods": ["card"], "access": "on_payment"},
    )
    api.created(
        "/v1/dunning-plans",
        {
            "legal_entity_id": seller["id"],
            "name": "Kort (NO)",
            "country": "NO",
            "currency": "NOK",
            "payment_methods": ["card"],
            "card_retry_days": [1, 2],
            "steps": [
                {
                    "key": "reminder-1",
                    "kind": "reminder",
                    "days": 3,
                    "after": "failed_charge",
                    "deadline_days": 14,
                }
            ],
            "default": True,
        },
    )
    return str(offer["id"]), str(seller["id"])


def test_a_declined_card_is_retried_on_the_retry_days_then_reminded(stack: LocalStack, api: Api) -> None:
    offer_id, _ = weekly_card_offer(api)
    placed = api.created(
        "/v1/orders",
        {
            "offer_id": offer_id,
            "payment_method": "card",
            "customer": {"type": "person", "name": "Ola Nordmann", "email": EMAIL, "language": "nb"},
        },
    )
    assert pay_on_page(stack, placed["payment"]["redirect_url"], "pm_card_visa")["status"] == "succeeded"
    wait_for(lambda: invoice(api, placed["invoice_id"])["status"] == "paid", what="the first invoice paid")

    # The day before the renewal, the bank stops the saved card: it declines when charged off session
    advance(api, "2027-01-07")
    assert stack.stripe is not None
    client = stripe.StripeClient(
        stack.stripe.secret_key, base_addresses={"api": stack.stripe.base_url}, max_network_retries=0
    )
    agreement_id = api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()["agreement_id"]
    setup = stack.services.payments.setup(agreement_id)
    assert setup is not None and setup[0].provider_reference is not None
    customer = setup[0].provider_reference
    blocked = client.v1.payment_methods.attach("pm_card_chargeCustomerFail", {"customer": customer})
    client.v1.customers.update(customer, {"invoice_settings": {"default_payment_method": blocked.id}})

    advance(api, "2027-01-11")

    listed = api.get(f"/v1/customers/{placed['customer_id']}/invoices?limit=100").json()["items"]
    [renewal] = [inv for inv in listed if inv["id"] != placed["invoice_id"] and inv["status"] != "draft"]
    assert (renewal["due_date"], renewal["status"], renewal["open_amount"]["amount"]) == (
        "2027-01-08",
        "issued",
        PRICE,
    )
    renewal_id = renewal["id"]

    # At Stripe: one PaymentIntent per attempt, each declined, each withdrawn by the next attempt
    attempts: list[dict[str, Any]] = sorted(
        (
            pi.to_dict()
            for pi in client.v1.payment_intents.list({"customer": customer}).auto_paging_iter()
            if pi.metadata.to_dict().get("invoice_id") == renewal_id
        ),
        key=lambda pi: int(pi["created"]),
    )
    assert [(pi["metadata"].get("attempt"), pi["status"], pi["amount"]) for pi in attempts] == [
        (None, "canceled", PRICE),
        ("1", "canceled", PRICE),
        ("2", "requires_payment_method", PRICE),
    ]
    found = stack.services.payments.charge(renewal_id)
    assert found is not None
    record = found[0]
    assert (record.state, record.attempt, record.decline_code, record.charge_ref) == (
        "failed",
        2,
        "generic_decline",
        attempts[-1]["id"],
    )

    # Dunning: the failure on the due date, the retries on their days, then the reminder
    dunned = case(api, renewal_id)
    assert (dunned["failed_charge_on"], dunned["status"], dunned["closed_reason"]) == (
        "2027-01-08",
        "closed",  # after the plan's last step
        "plan_finished",
    )
    assert dunned["done"] == {
        f"dunning:{renewal_id}:retry-1": "2027-01-09",
        f"dunning:{renewal_id}:retry-2": "2027-01-10",
        f"dunning:{renewal_id}:reminder-1": "2027-01-11",
    }
    [letter] = dunned["letters"]
    assert (letter["kind"], letter["sent_on"], letter["amount"]["amount"], letter["fee"]) == (
        "reminder",
        "2027-01-11",
        PRICE,
        None,
    )
    reminder = mail(stack, f"dunning:{renewal_id}:reminder-1")
    assert reminder["To"] == EMAIL
    assert "79,00" in text_of(reminder)

    # Besides the invoice, the customer heard of the failure once (with the first attempt's link), then
    # nothing of the declined retries, then the reminder
    mine = sorted(
        key for key, message in outbox(stack).items() if message["To"] == EMAIL and renewal_id in key
    )
    assert mine == [
        f"dunning:{renewal_id}:failed-charge",
        f"dunning:{renewal_id}:reminder-1",
        f"invoice-issued:{renewal_id}",
        f"payments:{renewal_id}:action-required",
    ]
