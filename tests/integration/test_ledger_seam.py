"""The seam with billing: the ledger's writes join the transaction that issues an invoice or a credit
note, customer credit pays new invoices, and hooks see invoices the moment they become paid."""

from __future__ import annotations

import json
from collections.abc import Sequence

from chalice.test import Client

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.container import Services
from chalicelib.ledger.models import IncomingMethod, LedgerSettings, OverpaymentRule
from chalicelib.ledger.posting import LedgerWrites
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.ledger.service import LedgerService
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import document_item
from tests.support.ledger import (
    invoice_items,
    ledger_api,
    make_invoice,
    seed_customer,
    seed_seller,
)

__all__ = ["ledger_api"]


def issue(services: Services, invoice: Invoice) -> LedgerWrites:
    """What billing does: its own items plus the ledger's writes, in one transaction."""
    writes = services.ledger.invoice_issued_writes(invoice)
    assert writes.invoice is not None
    services.documents.write(
        [*invoice_items(writes.invoice), *writes.creates], writes.replaces, updates=writes.updates
    )
    return writes


def pay(ledger: LedgerService, invoice: Invoice, amount: int, reference: str) -> None:
    ledger.record_payment(
        IncomingPayment(
            source="test",
            source_reference=reference,
            method=IncomingMethod.GIRO,
            amount=amount,
            currency=Currency.NOK,
            paid_on=invoice.invoice_date,
            kid=invoice.kid,
            kid_valid=True,
        )
    )


def stored(services: Services, invoice_id: str) -> Invoice:
    found = services.documents.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
    assert found is not None
    return found


def test_issuing_puts_the_invoice_on_the_ledger_in_the_same_transaction(
    services: Services, ledger_api: Client, admin: dict[str, str]
) -> None:
    seed_seller(services)
    customer = seed_customer(services, "cus_1", 10001)
    writes = issue(services, make_invoice(customer, 1, 29900))
    assert writes.became_paid == []
    ledger = ledger_api.http.get("/v1/customers/cus_1/ledger", headers=admin).json_body
    assert ledger["balance"] == {"amount": 29900, "currency": "NOK"}
    assert [(i["invoice_id"], i["open"]["amount"]) for i in ledger["open_items"]] == [("inv_seed_1", 29900)]
    assert [(e["seq"], e["kind"], e["balance_after"]["amount"]) for e in ledger["entries"]] == [
        (1, "invoice_issued", 29900)
    ]


def test_credit_pays_the_next_invoice_and_a_hook_sees_it_paid_in_the_same_transaction(
    services: Services, ledger_api: Client, admin: dict[str, str]
) -> None:
    # Given a customer who paid 400 kr for an invoice of 299 kr, and a hook that grants access on payment
    seed_seller(services)
    customer = seed_customer(services, "cus_1", 10001)
    ledger = services.ledger
    seen: list[list[str]] = []

    def grant_access(paid: Sequence[Invoice]) -> LedgerWrites:
        seen.append([invoice.id for invoice in paid])
        marker = document_item("marker", keys.order(f"granted-{paid[0].id}"), paid[0])
        return LedgerWrites(creates=[marker])

    ledger.paid_hooks.append(grant_access)
    first = make_invoice(customer, 1, 29900)
    issue(services, first)
    pay(ledger, first, 40000, "p1")
    assert seen == [[first.id]]
    assert stored(services, first.id).status == InvoiceStatus.PAID
    # When the next invoice of 99 kr is issued
    writes = issue(services, make_invoice(customer, 2, 9900))
    # Then the credit pays it at once, and it is stored as paid
    assert writes.invoice is not None and writes.invoice.status == InvoiceStatus.PAID
    assert writes.became_paid == ["inv_seed_2"]
    assert seen == [[first.id], ["inv_seed_2"]]
    assert services.documents.get(keys.order("granted-inv_seed_2").pk, "ORDER") is not None
    body = ledger_api.http.get("/v1/customers/cus_1/ledger?limit=3", headers=admin).json_body
    assert body["balance"]["amount"] == -(40000 - 29900 - 9900)
    assert len(body["entries"]) == 3 and body["next_cursor"]
    rest = ledger_api.http.get(
        f"/v1/customers/cus_1/ledger?cursor={body['next_cursor']}", headers=admin
    ).json_body
    assert [e["kind"] for e in body["entries"] + rest["entries"]] == [
        "invoice_issued",
        "payment_received",
        "payment_applied",
        "invoice_issued",
        "payment_applied",
    ]


def test_a_credit_note_on_a_paid_invoice_credits_it_and_refunds_per_settings(
    services: Services, ledger_api: Client, admin: dict[str, str]
) -> None:
    seed_seller(services)
    customer = seed_customer(services, "cus_1", 10001)
    response = ledger_api.http.put(
        "/v1/legal-entities/ent_seed/ledger-settings",
        headers=admin,
        body=json.dumps({"overpayment": "refund", "tolerance_amount": 500}),
    )
    assert response.status_code == 200, response.body
    ledger = services.ledger
    assert ledger.settings("ent_seed") == LedgerSettings(
        overpayment=OverpaymentRule.REFUND, tolerance_amount=500
    )
    invoice = make_invoice(customer, 1, 29900)
    issue(services, invoice)
    pay(ledger, invoice, 29600, "p1")  # 3 kr short: within the tolerance
    assert stored(services, invoice.id).status == InvoiceStatus.PAID
    credit_note = invoice.model_copy(
        update={"id": "cn_1", "kind": InvoiceKind.CREDIT_NOTE, "number": 2, "credited_invoice_id": invoice.id}
    )
    writes = ledger.credit_note_writes(credit_note)
    assert writes.invoice is not None and writes.invoice.open_amount == 0
    services.documents.write(writes.creates, writes.replaces, updates=writes.updates)
    assert stored(services, invoice.id).status == InvoiceStatus.CREDITED
    body = ledger_api.http.get("/v1/customers/cus_1/ledger", headers=admin).json_body
    assert [(e["kind"], e["amount"]["amount"]) for e in body["entries"]] == [
        ("invoice_issued", 29900),
        ("payment_received", 29600),
        ("payment_applied", 29600),
        ("write_off", 300),
        ("credit_note", 29900),
        ("payment_applied", -29600),
        ("write_off", -300),
        ("refund", 29600),
    ]
    assert body["balance"]["amount"] == 0


def test_bad_requests_are_problems(services: Services, ledger_api: Client, admin: dict[str, str]) -> None:
    seed_seller(services)
    get = ledger_api.http.get
    assert get("/v1/customers/cus_nobody/ledger", headers=admin).status_code == 404
    assert get("/v1/legal-entities/ent_nobody/ledger-settings", headers=admin).status_code == 404
    assert (
        get("/v1/legal-entities/ent_seed/ledger-settings", headers=admin).json_body["overpayment"] == "credit"
    )
    assert get("/v1/payments?from=2027-02-01&to=2027-01-01", headers=admin).status_code == 422
    assert get("/v1/payments?to=2027-01-01", headers=admin).status_code == 422
    assert get("/v1/payments?from=2027-01-01&to=2027-01-31&cursor=nonsense", headers=admin).status_code == 422
    assert get("/v1/payments?from=2027-01-01&to=2027-01-31&method=cash", headers=admin).status_code == 422
    assert get("/v1/payment-files/nope", headers=admin).status_code == 404
    assert get("/v1/payments", headers={}).status_code == 401
    post = ledger_api.http.post
    both = json.dumps({"invoice_id": "inv_1", "customer_id": "cus_1"})
    assert post("/v1/suspense/sus_1/assign", headers=admin, body=both).status_code == 422
    assert post("/v1/suspense/sus_1/assign", headers=admin, body='{"invoice_id": "inv_1"}').status_code == 404
    bad = json.dumps({"tolerance_amount": -1})
    assert (
        ledger_api.http.put(
            "/v1/legal-entities/ent_seed/ledger-settings", headers=admin, body=bad
        ).status_code
        == 422
    )
