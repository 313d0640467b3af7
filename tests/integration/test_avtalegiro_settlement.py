"""A claim settled by the payer's bank comes back in the OCR giro file as transaction type 15: importing it
pays the claimed invoice in the ledger, and the claim leaves the list of claims still unpaid after their
due date (for dunning)."""

from __future__ import annotations

from datetime import date, timedelta

from chalice.test import Client

from chalicelib.avtalegiro.models import ClaimStatus, SubmissionStatus
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.container import Services
from chalicelib.flows.import_ocr_file import incoming
from chalicelib.formats.ocr import parse_ocr
from chalicelib.formats.ocr_values import content_hash
from chalicelib.ledger.models import EntryKind, IncomingMethod, PaymentStatus
from chalicelib.store import keys
from tests.integration.test_avtalegiro_claims import NOW
from tests.integration.test_avtalegiro_claims import setup as claimed_invoices
from tests.support.ocr import Paid, ocr_file

DUE = date(2027, 1, 15)  # the due date of the invoices claimed_invoices makes
AVTALEGIRO = 15


def stored(services: Services, invoice_id: str) -> Invoice:
    found = services.documents.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
    assert found is not None
    return found


def test_a_claim_settled_in_the_ocr_file_pays_the_invoice_and_leaves_the_unpaid_list(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    # Given two invoices claimed in the day's AvtaleGiro file, due on 15 January
    paid_in_full, paid_short = claimed_invoices(services, api, admin, customers=2)
    avtalegiro = services.avtalegiro
    claims = avtalegiro.claims
    run = claims.run(NOW)
    assert run.submission.status == SubmissionStatus.WRITTEN and run.added == 2
    lines = {line.invoice_id: line for line in claims.lines(NOW.date())}
    assert {i: (line.kid, line.amount, line.due_date) for i, line in lines.items()} == {
        i.id: (i.kid, i.open_amount, DUE) for i in (paid_in_full, paid_short)
    }
    # Then neither is overdue within the grace days, and both are listed three days after the due date
    assert claims.unpaid(date(2027, 1, 17), grace_days=3) == []
    overdue = claims.unpaid(date(2027, 1, 18), grace_days=3)
    assert sorted((m.invoice_id, m.status, m.line.amount) for m in overdue) == sorted(
        (i.id, ClaimStatus.CLAIMED, i.open_amount) for i in (paid_in_full, paid_short)
    )
    # When Nets' OCR file reports the first claim settled in full and the second 10 kroner short, both as
    # AvtaleGiro transactions (type 15) carrying the claims' KIDs, dropped under ocr/
    first, second = lines[paid_in_full.id], lines[paid_short.id]
    data = ocr_file(
        [
            Paid(first.kid, first.amount, transaction_type=AVTALEGIRO),
            Paid(second.kid, second.amount - 1000, transaction_type=AVTALEGIRO),
        ],
        nets_date=DUE,
    )
    parsed = parse_ocr(data)
    assert [t.transaction_type for t in parsed.transactions] == [AVTALEGIRO, AVTALEGIRO]
    assert all(t.is_avtalegiro for t in parsed.transactions)
    services.s3.put_object(Bucket=services.settings.documents_bucket, Key="ocr/2027-01-15.txt", Body=data)
    services.drainer.drain()
    # Then the first invoice is paid, the second still owes the 10 kroner
    assert (stored(services, paid_in_full.id).status, stored(services, paid_in_full.id).open_amount) == (
        InvoiceStatus.PAID,
        0,
    )
    assert (stored(services, paid_short.id).status, stored(services, paid_short.id).open_amount) == (
        InvoiceStatus.ISSUED,
        1000,
    )
    # And the payment is an AvtaleGiro payment matched to the claimed invoice by its KID
    payment = services.ledger.payment(incoming(parsed.transactions[0], content_hash(data)).payment_id)
    assert (payment.method, payment.status, payment.amount) == (
        IncomingMethod.AVTALEGIRO,
        PaymentStatus.MATCHED,
        first.amount,
    )
    assert (payment.kid, payment.invoice_id, payment.became_paid) == (
        first.kid,
        paid_in_full.id,
        [paid_in_full.id],
    )
    assert payment.paid_on == DUE
    # And the customer's ledger has the invoice settled, with the payment received and applied to it
    view = services.ledger_reports.ledger(paid_in_full.customer_id, None, None, 100, None)
    assert paid_in_full.id in view.account.settled and paid_in_full.id not in view.account.open
    applied = [
        e for e in view.entries if e.invoice_id == paid_in_full.id and e.kind == EntryKind.PAYMENT_APPLIED
    ]
    assert [(e.amount, e.payment_id) for e in applied] == [(first.amount, payment.id)]
    received = [e for e in view.entries if e.kind == EntryKind.PAYMENT_RECEIVED]
    assert [(e.amount, e.payment_id) for e in received] == [(first.amount, payment.id)]
    # And the unpaid list now holds only the claim paid short, its marker unchanged
    overdue = claims.unpaid(date(2027, 1, 18), grace_days=3)
    assert [(m.invoice_id, m.line.kid, m.line.amount) for m in overdue] == [
        (paid_short.id, second.kid, second.amount)
    ]
    # And once the rest arrives (a later file), nothing is unpaid
    rest = ocr_file(
        [Paid(second.kid, 1000, transaction_type=AVTALEGIRO)],
        nets_date=date(2027, 1, 19),
        transmission="1000002",
    )
    services.s3.put_object(Bucket=services.settings.documents_bucket, Key="ocr/2027-01-19.txt", Body=rest)
    services.drainer.drain()
    assert stored(services, paid_short.id).status == InvoiceStatus.PAID
    assert claims.unpaid(date(2027, 1, 20), grace_days=3) == []


def test_the_unpaid_list_looks_back_only_so_far(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    # Given a claim due on 15 January and never paid
    [invoice] = claimed_invoices(services, api, admin, customers=1)
    claims = services.avtalegiro.claims
    claims.run(NOW)
    # Then it is listed from the grace days on, until the lookback has passed
    assert [m.invoice_id for m in claims.unpaid(date(2027, 1, 16), grace_days=1)] == [invoice.id]
    assert [m.invoice_id for m in claims.unpaid(DUE + timedelta(days=62), grace_days=3)] == [invoice.id]
    assert claims.unpaid(DUE + timedelta(days=63), grace_days=3) == []
    assert [m.invoice_id for m in claims.unpaid(DUE + timedelta(days=30), 3, lookback_days=30)] == [
        invoice.id
    ]
    # And the back office lists it over HTTP, with what the payer owes
    listed = api.http.get("/v1/avtalegiro/claims/unpaid?as_of=2027-01-16&grace_days=1", headers=admin)
    assert listed.status_code == 200, listed.body
    [item] = listed.json_body["items"]
    assert (item["invoice_id"], item["kid"], item["due_date"], item["amount"]) == (
        invoice.id,
        invoice.kid,
        "2027-01-15",
        invoice.open_amount,
    )
    too_soon = api.http.get("/v1/avtalegiro/claims/unpaid?as_of=2027-01-16&grace_days=3", headers=admin)
    assert too_soon.json_body["items"] == []
    refused = api.http.get("/v1/avtalegiro/claims/unpaid?grace_days=-1", headers=admin)
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
