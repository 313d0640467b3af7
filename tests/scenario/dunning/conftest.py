"""Helpers for the dunning scenarios: a Norwegian seller with a yearly plan and the standard Norwegian
dunning plan (reminder with a NOK 35 fee at day 14, debt collection notice at day 28, hand-off at day 42),
orders in a chosen language, payments by OCR giro file, and the outbox read back as e-mails.

Each module gets its own, really empty, local stack (moto reset, as ``tests/scenario/billing``) with the
clock frozen at 2027-01-01 09:00 Oslo time, so invoice numbers start at 1.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from infra.local.stack import LocalStack
from tests.scenario.billing.conftest import Catalog, today
from tests.scenario.conftest import Api
from tests.support.clock import advance_clock
from tests.support.ocr import Paid, ocr_file

NO_PLAN: dict[str, Any] = {
    "name": "Standard (NO)",
    "country": "NO",
    "currency": "NOK",
    "steps": [
        {"key": "reminder-1", "kind": "reminder", "days": 14, "fee": {"amount": 3500}, "deadline_days": 14},
        {"key": "notice", "kind": "collection_notice", "days": 28, "deadline_days": 14},
        {"key": "hand-off", "kind": "hand_off", "days": 42},
    ],
    "default": True,
}
PRICE = 29900  # NOK 299 a year, news at 0 % VAT
_files = itertools.count(1)


@dataclass(frozen=True)
class Shop:
    """The seller, its offer and its dunning plan."""

    seller_id: str
    offer_id: str
    plan: dict[str, Any]


def shop(api: Api) -> Shop:
    """A seller with a monthly plan, an invoice offer and the standard Norwegian dunning plan."""
    catalog = Catalog(api, billing_only=False)
    seller_id = str(api.get("/v1/legal-entities").json()["items"][0]["id"])
    # Yearly: no renewal is open while the first invoice is dunned, so a payment's excess goes to the fee.
    offer_id = catalog.offer(catalog.plan("Nordavisa digital", PRICE, unit="year"))
    plan = api.created("/v1/dunning-plans", {**NO_PLAN, "legal_entity_id": seller_id})
    return Shop(seller_id, offer_id, plan)


def order(api: Api, offer_id: str, *, language: str, email: str, name: str) -> dict[str, Any]:
    """An order paid by invoice (with KID) for a person speaking ``language``."""
    body = {
        "offer_id": offer_id,
        "payment_method": "invoice",
        "customer": {"type": "person", "name": name, "email": email, "language": language},
    }
    return api.created("/v1/orders", body)


def advance(api: Api, to: str) -> None:
    """Move the clock to noon in Oslo on ``to``, running every scheduled job on the way."""
    advance_clock(api, f"{to}T12:00:00+01:00")


def invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def case(api: Api, invoice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}/dunning")
    assert response.status_code == 200, response.text
    return dict(response.json())


def pay_by_giro(stack: LocalStack, api: Api, kid: str, amount: int, invoice_id: str) -> None:
    """Drop an OCR giro file paying ``amount`` to ``kid``; wait until the invoice is paid."""
    number = next(_files)
    data = ocr_file(
        [Paid(kid, amount)], nets_date=today(api), transmission=f"{number:07d}", assignment=f"{number:07d}"
    )
    inbox = stack.inbox_dir / "ocr"
    partial = inbox / f".giro-{number}.part"
    partial.write_bytes(data)
    partial.rename(inbox / f"giro-{number}.txt")
    deadline = time.monotonic() + 30
    while invoice(api, invoice_id)["open_amount"]["amount"] != 0:
        assert time.monotonic() < deadline, f"the payment of {invoice_id} did not arrive"
        time.sleep(0.2)


def outbox(stack: LocalStack) -> dict[str, EmailMessage]:
    """Every e-mail in the stack's outbox, by message key."""
    folder = stack.var_dir / "outbox"
    mails: dict[str, EmailMessage] = {}
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        mails[str(mail["X-Abo-Message-Key"]).strip()] = mail  # a long key is folded
    return mails


def mail(stack: LocalStack, key: str, timeout: float = 30) -> EmailMessage:
    """The e-mail sent under ``key``, waiting for the notification queue's consumer if need be."""
    deadline = time.monotonic() + timeout
    while True:
        found = outbox(stack).get(key)
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"no e-mail {key}; outbox: {sorted(outbox(stack))}"
        time.sleep(0.2)


def text_of(message: EmailMessage) -> str:
    """The plain-text body."""
    body = message.get_body(("plain",))
    assert body is not None
    return str(cast(EmailMessage, body).get_content())
