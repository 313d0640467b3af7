"""Helpers for the billing scenarios: a catalog builder, orders, the clock, payments, and the documents of a
customer as rows a billing person can read (inclusive last days, amounts in øre).

Each scenario module gets its own local stack (``stack``/``api`` from ``tests/scenario/conftest.py``) with
the clock frozen at 2027-01-01 09:00 Oslo time, so its invoice and customer numbers start at 1 and 10001.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.support.catalog import reminder_only_plan
from tests.support.clock import advance_clock
from tests.support.ocr import Paid, ocr_file

SELLER = {
    "name": "Avishuset Nord AS",
    "organization_number": "974760673",
    "address": {"line1": "Storgata 1", "postal_code": "9008", "city": "Tromsø"},
    "bank_account": "86011117947",
}

_files = itertools.count(1)


# ---- catalog -----------------------------------------------------------------------------------------


@dataclass
class Catalog:
    """Builds a seller's catalog over HTTP; ``product`` and ``plan`` return ids."""

    api: Api
    seller: dict[str, Any] = field(default_factory=lambda: dict(SELLER))
    products: dict[str, str] = field(default_factory=dict)

    # The billing scenarios store a reminder-only plan (see reminder_only_plan); the dunning scenarios
    # keep the seller on its country's standard plan or store their own.
    billing_only: bool = True

    def __post_init__(self) -> None:
        created = self.api.created("/v1/legal-entities", self.seller)
        if self.billing_only:
            country = str(created.get("country", "NO"))
            self.api.created("/v1/dunning-plans", reminder_only_plan(str(created["id"]), country))

    def product(self, name: str, vat: str = "news") -> str:
        if name not in self.products:
            created = self.api.created(
                "/v1/products", {"name": name, "kind": "digital", "vat_rate_code": vat}
            )
            self.products[name] = str(created["id"])
        return self.products[name]

    def plan(
        self,
        name: str,
        price: int,
        *,
        product: str = "Nordavisa",
        vat: str = "news",
        currency: str = "NOK",
        unit: str = "month",
        count: int = 1,
        **extra: Any,
    ) -> str:
        body: dict[str, Any] = {
            "name": name,
            "product_ids": [self.product(product, vat)],
            "currency": currency,
            "price": {"amount": price},
            "period": {"unit": unit, "count": count},
            **extra,
        }
        return str(self.api.created("/v1/plans", body)["id"])

    def bundle(self, name: str, parts: list[tuple[str, str, int]], **extra: Any) -> str:
        """A bundle of (product name, VAT code, price) parts."""
        ids = [self.product(product, vat) for product, vat, _ in parts]
        body: dict[str, Any] = {
            "name": name,
            "product_ids": ids,
            "currency": extra.pop("currency", "NOK"),
            "price": {"amount": sum(price for _, _, price in parts)},
            "period": {"unit": "month", "count": 1},
            "components": [
                {"product_id": pid, "price": {"amount": price}}
                for pid, (_, _, price) in zip(ids, parts, strict=True)
            ],
            **extra,
        }
        return str(self.api.created("/v1/plans", body)["id"])

    def offer(
        self,
        plan_id: str,
        *,
        campaign: tuple[int, int] | None = None,
        after_campaign: str | None = None,
        methods: tuple[str, ...] = ("invoice", "ehf"),
    ) -> str:
        body: dict[str, Any] = {
            "name": f"offer for {plan_id}",
            "plan_id": plan_id,
            "payment_methods": list(methods),
            "access": "on_order",
        }
        if campaign:
            body["campaign"] = {"price": {"amount": campaign[0]}, "periods": campaign[1]}
        if after_campaign:
            body["after_campaign"] = {"plan_id": after_campaign}
        return str(self.api.created("/v1/offers", body)["id"])


def order(
    api: Api,
    offer_id: str,
    start: str | None = None,
    *,
    quantity: int = 1,
    email: str = "kari@example.no",
    name: str = "Kari Nordmann",
    method: str = "invoice",
    organisation: str | None = None,
) -> dict[str, Any]:
    """Place an order; returns the order's ids."""
    customer: dict[str, Any] = {"type": "person", "name": name, "email": email}
    if organisation:
        customer = {"type": "organization", "name": name, "email": email, "org_number": organisation}
    body: dict[str, Any] = {
        "offer_id": offer_id,
        "payment_method": method,
        "quantity": quantity,
        "customer": customer,
    }
    if start:
        body["start_date"] = start
    return api.created("/v1/orders", body)


# ---- the clock and actions ---------------------------------------------------------------------------


def advance(api: Api, to: str) -> None:
    """Move the clock to ``to`` (a date: noon in Oslo that day, or an instant), running every daily run."""
    target = to if "T" in to else f"{to}T12:00:00+01:00"
    advance_clock(api, target)


def today(api: Api) -> date:
    return date.fromisoformat(api.get("/v1/test/clock").json()["now"][:10])


def act(api: Api, subscription_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST /v1/subscriptions/{id}/{action}; must answer 200."""
    response = api.post(f"/v1/subscriptions/{subscription_id}/{action}", body)
    assert response.status_code == 200, (action, response.status_code, response.text)
    return dict(response.json())


def credit_note(api: Api, invoice_id: str, lines: list[int] | None = None) -> dict[str, Any]:
    return api.created(f"/v1/invoices/{invoice_id}/credit-note", {"lines": lines} if lines else {})


def invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def pay(stack: LocalStack, api: Api, invoice_id: str, amount: int | None = None) -> None:
    """Pay an invoice's open amount (or ``amount``) with its KID and wait until the ledger has it.

    NOK arrives as an OCR giro file dropped in the stack's drop folder; other currencies as a bank transfer
    recorded by the ledger."""
    found = invoice(api, invoice_id)
    paying = found["open_amount"]["amount"] if amount is None else amount
    if found["currency"] == "NOK":
        number = next(_files)
        data = ocr_file(
            [Paid(found["kid"], paying)],
            nets_date=today(api),
            transmission=f"{number:07d}",
            assignment=f"{number:07d}",
        )
        inbox = stack.inbox_dir / "ocr"
        partial = inbox / f".giro-{number}.part"
        partial.write_bytes(data)
        partial.rename(inbox / f"giro-{number}-{invoice_id}.txt")
    else:
        from chalicelib.ledger.models import IncomingMethod
        from chalicelib.ledger.recording import IncomingPayment
        from chalicelib.money import Currency

        stack.services.ledger.record_payment(
            IncomingPayment(
                source="scenario",
                source_reference=f"pay-{invoice_id}-{paying}",
                method=IncomingMethod.BANK_TRANSFER,
                amount=paying,
                currency=Currency(found["currency"]),
                paid_on=today(api),
                kid=found["kid"],
                kid_valid=True,
            )
        )
    deadline = time.monotonic() + 30
    while invoice(api, invoice_id)["open_amount"]["amount"] != found["open_amount"]["amount"] - paying:
        assert time.monotonic() < deadline, f"the payment of {invoice_id} did not arrive"
        time.sleep(0.2)


# ---- reading documents as a billing person would -----------------------------------------------------


@dataclass(frozen=True)
class Line:
    """An invoice or credit note line: text, first and last day covered, amount incl. VAT (øre), VAT."""

    text: str
    first: str | None
    last: str | None
    gross: int
    vat: int = 0
    quantity: int = 1


@dataclass(frozen=True)
class Doc:
    """A numbered document: invoice or credit note, dates, lines, total incl. VAT (øre)."""

    number: int
    kind: str
    issued: str
    due: str
    lines: tuple[Line, ...]
    total: int


def _last_day(end: str) -> str:
    return (date.fromisoformat(end) - timedelta(days=1)).isoformat()


def as_doc(found: dict[str, Any]) -> Doc:
    lines = tuple(
        Line(
            line["text"],
            line["period"]["start"] if line["period"] else None,
            _last_day(line["period"]["end"]) if line["period"] else None,
            line["gross"]["amount"],
            line["vat"]["amount"],
            line["quantity"],
        )
        for line in found["lines"]
    )
    assert sum(line.gross for line in lines) == found["totals"]["gross"]["amount"]
    return Doc(
        found["number"],
        "credit note" if found["kind"] == "credit_note" else "invoice",
        found["issue_date"],
        found["due_date"],
        lines,
        found["totals"]["gross"]["amount"],
    )


def raw_documents(api: Api, customer_id: str) -> list[dict[str, Any]]:
    """The customer's numbered invoices and credit notes, by number."""
    response = api.get(f"/v1/customers/{customer_id}/invoices?limit=100")
    assert response.status_code == 200, response.text
    return sorted((i for i in response.json()["items"] if i["number"]), key=lambda i: i["number"])


def documents(api: Api, customer_id: str) -> list[Doc]:
    """The customer's numbered invoices and credit notes, by number, as readable rows."""
    return [as_doc(found) for found in raw_documents(api, customer_id)]


def draft(api: Api, subscription_id: str) -> Doc | None:
    """The next invoice's draft (number 0), or None."""
    found = api.get(f"/v1/subscriptions/{subscription_id}").json()["next_invoice"]
    return as_doc({**found, "number": 0}) if found else None


def subscription(api: Api, subscription_id: str) -> dict[str, Any]:
    return dict(api.get(f"/v1/subscriptions/{subscription_id}").json())


def balance(api: Api, customer_id: str) -> int:
    """What the customer owes (negative: holds credit), in øre."""
    return int(api.get(f"/v1/customers/{customer_id}/ledger").json()["balance"]["amount"])


def statuses(api: Api, customer_id: str) -> dict[int, tuple[str, int]]:
    """Number → (status, open amount) of every numbered document."""
    return {i["number"]: (i["status"], i["open_amount"]["amount"]) for i in raw_documents(api, customer_id)}
