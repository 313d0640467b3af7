"""Money in and out records its events in the transaction of its change: ``payment.received`` for every
payment (OCR, manual, assigned from suspense), ``invoice.paid`` wherever an invoice becomes paid (a payment,
a suspense item placed on it, customer credit as it is issued), ``payment.refunded`` for money paid back;
a replayed import records nothing again and a transaction that fails records nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from chalicelib.billing.issuing import ToIssue, invoice_series, issuing_writes
from chalicelib.billing.models import InvoiceStatus
from chalicelib.container import Services
from chalicelib.ledger.models import (
    FileArrival,
    IncomingMethod,
    LedgerSettings,
    OverpaymentRule,
    SuspenseStatus,
)
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.money import Currency
from chalicelib.store.documents import WriteConflictError
from tests.support.events import recorded_events
from tests.support.ledger import SEED_AT, make_invoice, seed_customer, seed_invoice, seed_seller
from tests.support.ocr import Paid, ocr_file

NETS_DATE = date(2027, 1, 5)


def events(type_: str) -> list[dict[str, Any]]:
    """The recorded events of one type, in their public form."""
    return [event.as_json() for event in recorded_events() if event.type.value == type_]


def manual(kid: str | None, amount: int, reference: str) -> IncomingPayment:
    return IncomingPayment(
        source="test",
        source_reference=reference,
        method=IncomingMethod.MANUAL,
        amount=amount,
        currency=Currency.NOK,
        paid_on=NETS_DATE,
        kid=kid,
        kid_valid=kid is not None,
    )


def test_an_ocr_file_imported_twice_records_each_payment_and_paid_invoice_once(services: Services) -> None:
    # Given two customers with an invoice each, and a file paying one in full, one in part, and a KID that
    # names nothing
    seller = seed_seller(services)
    one = seed_invoice(services, seed_customer(services, "cus_1", 10001), 1, 29900)
    two = seed_invoice(services, seed_customer(services, "cus_2", 10002), 2, 34900)
    data = ocr_file([Paid(one.kid, 29900), Paid(two.kid, 10000), Paid("0000000000000000018", 1000)])
    arrival = FileArrival(bucket="b", key="ocr/1.txt", etag="e1", received_at=SEED_AT)
    # When it is imported
    services.ocr_imports.import_bytes(data, arrival)
    # Then each payment is received, the paid invoice is paid, and the suspense payment names no seller
    received = sorted(events("payment.received"), key=lambda e: e["data"]["amount"]["amount"])
    assert [(e["legal_entity_id"], e["data"]) for e in received] == [
        (
            "",
            {
                "payment_id": received[0]["data"]["payment_id"],
                "customer_id": None,
                "amount": {"amount": 1000, "currency": "NOK"},
                "method": "giro",
                "received_on": "2027-01-05",
                "invoice_ids": [],
            },
        ),
        (
            seller.id,
            {
                "payment_id": received[1]["data"]["payment_id"],
                "customer_id": "cus_2",
                "amount": {"amount": 10000, "currency": "NOK"},
                "method": "giro",
                "received_on": "2027-01-05",
                "invoice_ids": [two.id],
            },
        ),
        (
            seller.id,
            {
                "payment_id": received[2]["data"]["payment_id"],
                "customer_id": "cus_1",
                "amount": {"amount": 29900, "currency": "NOK"},
                "method": "giro",
                "received_on": "2027-01-05",
                "invoice_ids": [one.id],
            },
        ),
    ]
    assert all(e["occurred_at"] == "2027-01-01T08:00:00Z" for e in received)  # booked at the arrival
    assert [(e["legal_entity_id"], e["data"]) for e in events("invoice.paid")] == [
        (
            seller.id,
            {
                "invoice_id": one.id,
                "number": one.number,
                "customer_id": "cus_1",
                "paid_on": "2027-01-05",
                "total": {"amount": 29900, "currency": "NOK"},
            },
        )
    ]
    before = recorded_events()
    assert len(before) == 4
    # When the same drop is delivered again, and the same bytes are dropped under another key
    services.ocr_imports.import_bytes(data, arrival)
    again = FileArrival(bucket="b", key="ocr/2.txt", etag="e2", received_at=SEED_AT)
    assert services.ocr_imports.import_bytes(data, again).duplicate
    # Then nothing more is recorded
    assert recorded_events() == before


def test_a_manual_payment_and_a_replay_of_it_record_its_events_once(services: Services) -> None:
    seed_seller(services)
    invoice = seed_invoice(services, seed_customer(services, "cus_1", 10001), 1, 29900)
    payment = manual(invoice.kid, 29900, "bank-1")
    recorded = services.ledger.record_payment(payment)
    assert recorded.became_paid == [invoice.id]
    [received] = events("payment.received")
    assert received["data"] == {
        "payment_id": recorded.payment.id,
        "customer_id": "cus_1",
        "amount": {"amount": 29900, "currency": "NOK"},
        "method": "manual",
        "received_on": "2027-01-05",
        "invoice_ids": [invoice.id],
    }
    assert [e["data"]["invoice_id"] for e in events("invoice.paid")] == [invoice.id]
    before = recorded_events()
    assert services.ledger.record_payment(payment).duplicate
    assert recorded_events() == before


def test_a_payment_whose_transaction_fails_records_nothing(services: Services) -> None:
    # Given a payment planned against the account as it was read
    seed_seller(services)
    invoice = seed_invoice(services, seed_customer(services, "cus_1", 10001), 1, 29900)
    ledger = services.ledger
    stale = ledger.book()
    planned = ledger.plan_payment(manual(invoice.kid, 29900, "bank-1"), stale, services.clock.now())
    assert {e.type.value for e in planned.writes.events} == {"payment.received", "invoice.paid"}
    # When another payment changes the account first
    ledger.record_payment(manual(invoice.kid, 100, "bank-2"))
    before = recorded_events()
    # Then the planned payment's transaction fails, and none of its events is recorded
    with pytest.raises(WriteConflictError):
        ledger.commit(planned, stale)
    assert recorded_events() == before
    assert [e["data"]["amount"]["amount"] for e in events("payment.received")] == [100]
    assert events("invoice.paid") == []


def test_a_suspense_payment_placed_on_an_invoice_tells_its_seller_and_pays_the_invoice(
    services: Services,
) -> None:
    seller = seed_seller(services)
    invoice = seed_invoice(services, seed_customer(services, "cus_1", 10001), 1, 29900)
    recorded = services.ledger.record_payment(manual(None, 29900, "bank-1"))
    [item] = services.ledger.suspense_items(SuspenseStatus.OPEN, 10, None).items
    [arrived] = events("payment.received")
    assert (arrived["legal_entity_id"], arrived["data"]["customer_id"]) == ("", None)

    services.assign_suspense.assign(item.id, invoice_id=invoice.id)

    placed = [e for e in events("payment.received") if e["id"] != arrived["id"]]
    assert [(e["legal_entity_id"], e["data"]) for e in placed] == [
        (
            seller.id,
            {
                "payment_id": recorded.payment.id,
                "customer_id": "cus_1",
                "amount": {"amount": 29900, "currency": "NOK"},
                "method": "manual",
                "received_on": "2027-01-05",
                "invoice_ids": [invoice.id],
            },
        )
    ]
    assert [e["data"]["invoice_id"] for e in events("invoice.paid")] == [invoice.id]


def test_credit_that_pays_an_invoice_as_it_is_issued_is_recorded_by_the_issuing_transaction(
    services: Services,
) -> None:
    # Given a customer who holds 200 kr of credit (an overpayment)
    seller = seed_seller(services)
    customer = seed_customer(services, "cus_1", 10001)
    first = seed_invoice(services, customer, 1, 10000)
    services.ledger.record_payment(manual(first.kid, 30000, "bank-1"))
    # When an invoice of 99 kr is issued
    draft = make_invoice(customer, 2, 9900).model_copy(
        update={"status": InvoiceStatus.DRAFT, "number": None, "kid": None}
    )
    writes = issuing_writes(invoice_series(seller), [ToIssue(draft, customer.number)], services.ledger)
    [issued] = writes.documents
    assert issued.status == InvoiceStatus.PAID
    assert [e["data"]["invoice_id"] for e in events("invoice.paid")] == [first.id]  # nothing written yet
    services.documents.write(writes.creates, writes.replaces, updates=writes.updates, events=writes.events)
    # Then its invoice.paid is recorded with its invoice.issued, dated on the invoice date
    paid = [e for e in events("invoice.paid") if e["data"]["invoice_id"] == issued.id]
    assert [e["data"] for e in paid] == [
        {
            "invoice_id": issued.id,
            "number": issued.number,
            "customer_id": "cus_1",
            "paid_on": issued.invoice_date.isoformat(),
            "total": {"amount": 9900, "currency": "NOK"},
        }
    ]
    assert [e["data"]["invoice_id"] for e in events("invoice.issued")] == [issued.id]


def test_refunds_record_payment_refunded(services: Services) -> None:
    # Given a seller who pays overpayments back, and a customer who pays 100 kr too much
    seller = seed_seller(services)
    services.ledger.set_settings(seller.id, LedgerSettings(overpayment=OverpaymentRule.REFUND))
    invoice = seed_invoice(services, seed_customer(services, "cus_1", 10001), 1, 29900)
    recorded = services.ledger.record_payment(manual(invoice.kid, 39900, "bank-1"))
    # Then the overpayment is refunded with the payment
    assert [(e["legal_entity_id"], e["data"]) for e in events("payment.refunded")] == [
        (
            seller.id,
            {
                "payment_id": recorded.payment.id,
                "customer_id": "cus_1",
                "amount": {"amount": 10000, "currency": "NOK"},
                "method": "manual",
            },
        )
    ]


def test_credit_paid_back_by_the_back_office_records_payment_refunded(services: Services) -> None:
    seller = seed_seller(services)
    invoice = seed_invoice(services, seed_customer(services, "cus_1", 10001), 1, 29900)
    services.ledger.record_payment(manual(invoice.kid, 39900, "bank-1"))
    services.refund_credit.refund("cus_1", seller.id, Currency.NOK, 6000)
    [refunded] = events("payment.refunded")
    assert refunded["legal_entity_id"] == seller.id
    assert refunded["data"]["payment_id"].startswith("ref_")
    assert {k: v for k, v in refunded["data"].items() if k != "payment_id"} == {
        "customer_id": "cus_1",
        "amount": {"amount": 6000, "currency": "NOK"},
        "method": "manual",
    }
