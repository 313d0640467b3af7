"""Helpers for the payment scenarios: a seller with a monthly plan offered with Vipps and card, orders,
waiting for webhooks to be worked, and the invoices of a customer."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, TypeVar

import requests

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.support.clock import advance_clock

T = TypeVar("T")

SELLER = {
    "name": "Avishuset Nord AS",
    "organization_number": "974760673",
    "address": {"line1": "Storgata 1", "postal_code": "9008", "city": "Tromsø"},
    "bank_account": "86011117947",
}


def monthly_offer(api: Api, price: int = 29900) -> dict[str, Any]:
    """A seller, a news product (0 % VAT), a monthly plan and an offer paid by Vipps or card."""
    api.created("/v1/legal-entities", SELLER)
    news = api.created("/v1/products", {"name": "Nordavisa", "kind": "digital", "vat_rate_code": "news"})
    plan = api.created(
        "/v1/plans",
        {
            "name": "Nordavisa digital",
            "product_ids": [news["id"]],
            "currency": "NOK",
            "price": {"amount": price},
            "period": {"unit": "month", "count": 1},
        },
    )
    offer = api.created(
        "/v1/offers",
        {
            "name": "Digital",
            "plan_id": plan["id"],
            "payment_methods": ["vipps", "card"],
            "access": "on_payment",
        },
    )
    return {"offer": offer, "plan": plan, "product": news}


def order(api: Api, offer_id: str, method: str, email: str, key: str) -> dict[str, Any]:
    """Place an order; 201 expected."""
    body = {
        "offer_id": offer_id,
        "payment_method": method,
        "customer": {"type": "person", "name": "Kari Nordmann", "email": email, "phone": "41234567"},
    }
    response = api.post("/v1/orders", body, key=key)
    assert response.status_code == 201, response.text
    return dict(response.json())


def wait_for(check: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def invoices(api: Api, customer_id: str) -> list[dict[str, Any]]:
    """Every invoice of the customer, oldest first."""
    response = api.get(f"/v1/customers/{customer_id}/invoices?limit=100")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def approve(redirect_url: str) -> None:
    """The customer approves the agreement in the Vipps app (the simulator's approve endpoint)."""
    response = requests.post(f"{redirect_url}/approve", timeout=30)
    assert response.status_code == 200, response.text


def advance(api: Api, day: str) -> None:
    """Move the test clock to 08:00 UTC of ``day`` (every scheduled job runs on the way)."""
    advance_clock(api, f"{day}T08:00:00+00:00")


# The payment page's publishable key: Stripe.js confirms with it and the intent's client secret.
PUBLISHABLE_KEY = "pk_test_abo_local"


def intent_id(redirect_url: str) -> str:
    """The PaymentIntent an order's card payment page (``{page}/{intent id}``) is for."""
    found = redirect_url.rstrip("/").rsplit("/", 1)[-1]
    assert found.startswith("pi_"), redirect_url
    return found


def pay_on_page(stack: LocalStack, redirect_url: str, payment_method: str) -> dict[str, Any]:
    """The customer on our payment page: Stripe.js confirms the order's PaymentIntent with the card and,
    when the bank asks for it, completes 3-D Secure; the confirmed PaymentIntent as Stripe answered."""
    assert stack.stripe is not None
    base = stack.stripe.base_url
    intent = intent_id(redirect_url)
    # The page gets the client secret from our backend (which holds the secret key).
    fetched = requests.get(
        f"{base}/v1/payment_intents/{intent}", auth=(stack.stripe.secret_key, ""), timeout=30
    )
    assert fetched.status_code == 200, fetched.text
    secret = fetched.json()["client_secret"]
    browser = {"Authorization": f"Bearer {PUBLISHABLE_KEY}"}
    confirmed = requests.post(
        f"{base}/v1/payment_intents/{intent}/confirm",
        data={"client_secret": secret, "payment_method": payment_method},
        headers=browser,
        timeout=30,
    )
    assert confirmed.status_code == 200, confirmed.text
    body = dict(confirmed.json())
    if body["status"] == "requires_action":
        authenticated = requests.post(
            f"{base}/v1/payment_intents/{intent}/_authenticate",
            data={"client_secret": secret, "success": "true", "key": PUBLISHABLE_KEY},
            timeout=30,
        )
        assert authenticated.status_code == 200, authenticated.text
        body = dict(authenticated.json())
    return body


@dataclass(frozen=True)
class SentMail:
    """One e-mail in the stack's outbox."""

    key: str
    to: str
    subject: str
    text: str


def outbox(stack: LocalStack) -> list[SentMail]:
    """Every e-mail the stack sent (its copies in ``var/outbox``), oldest first."""
    folder = stack.var_dir / "outbox"
    mails: list[SentMail] = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        mails.append(
            SentMail(
                str(message["X-Abo-Message-Key"]).strip(), str(message["To"]), str(message["Subject"]), text
            )
        )
    return mails


def vipps_traffic_kept_to_the_spec(stack: LocalStack) -> int:
    """Assert that every request Abo sent the Vipps simulator, and every answer, validated against the
    published specs; returns how many exchanges were validated."""
    assert stack.vipps is not None
    checker = stack.vipps.spec_checker
    assert checker is not None, "the payments scenarios run the Vipps simulator with validation on"
    assert checker.failures == []
    return checker.validated
