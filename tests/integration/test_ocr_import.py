"""OCR giro files dropped in the bucket reach the ledger through S3 → SQS → the import function."""

from __future__ import annotations

from typing import Any

from chalice.test import Client

from chalicelib.billing.kid import kid_algorithms_of
from chalicelib.billing.models import InvoiceStatus
from chalicelib.container import Services
from chalicelib.ledger.models import FileStatus, PaymentStatus
from tests.support.ledger import dump_table, ledger_api, shop
from tests.support.ocr import SAMPLE_TOTAL, SAMPLE_TRANSACTIONS, Paid, ocr_file, sample_bytes

__all__ = ["ledger_api"]


def drop(services: Services, key: str, data: bytes) -> None:
    services.s3.put_object(Bucket=services.settings.documents_bucket, Key=key, Body=data)
    services.drainer.drain()


def report(client: Client, admin: dict[str, str], file_id: str) -> dict[str, Any]:
    response = client.http.get(f"/v1/payment-files/{file_id}", headers=admin)
    assert response.status_code == 200, response.body
    return dict(response.json_body)


def test_the_official_sample_imports_20_transactions_with_the_files_own_total(
    services: Services, ledger_api: Client, admin: dict[str, str]
) -> None:
    # Given the sample OCR file from Nets dropped under ocr/
    drop(services, "ocr/sample.txt", sample_bytes())
    # Then its report counts 20 transactions with the file's own total, all received
    files = ledger_api.http.get("/v1/payment-files", headers=admin).json_body["items"]
    assert len(files) == 1
    found = report(ledger_api, admin, files[0]["id"])
    assert found["status"] == "imported"
    assert found["transactions"] == SAMPLE_TRANSACTIONS
    assert found["total"] == {"amount": SAMPLE_TOTAL, "currency": "NOK"}
    assert found["outcomes"]["received"] == {
        "count": 20,
        "amount": {"amount": SAMPLE_TOTAL, "currency": "NOK"},
    }
    # And none of its KIDs names an invoice of ours: all 20 wait in suspense with their reason
    assert found["outcomes"]["suspense:unknown_kid"]["count"] == 20
    suspense = ledger_api.http.get("/v1/suspense?limit=100", headers=admin).json_body["items"]
    assert len(suspense) == 20
    assert sum(item["amount"]["amount"] for item in suspense) == SAMPLE_TOTAL
    # And the payments report shows them on their Nets date, with the total
    payments = ledger_api.http.get(
        "/v1/payments?from=1992-01-01&to=1992-01-31&limit=7", headers=admin
    ).json_body
    assert len(payments["items"]) == 7
    assert payments["totals"] == [{"count": 20, "amount": {"amount": SAMPLE_TOTAL, "currency": "NOK"}}]
    pages = [payments]
    while pages[-1]["next_cursor"]:
        cursor = pages[-1]["next_cursor"]
        pages.append(
            ledger_api.http.get(
                f"/v1/payments?from=1992-01-01&to=1992-01-31&limit=7&cursor={cursor}", headers=admin
            ).json_body
        )
    assert sum(len(page["items"]) for page in pages) == 20
    assert len({p["id"] for page in pages for p in page["items"]}) == 20


def test_a_generated_file_marks_exactly_the_paid_invoices_paid(
    services: Services, api: Client, ledger_api: Client, admin: dict[str, str]
) -> None:
    # Given four customers with an invoice each, created by orders
    the_shop = shop(services, api, admin)
    invoices = [the_shop.order(f"kunde{n}@example.no") for n in range(4)]
    assert all(i.kid and i.status == InvoiceStatus.ISSUED for i in invoices)
    first, second, third, fourth = invoices
    # When the bank reports: the first paid in full, the second paid too little, the third paid twice
    # its amount, and a payment whose KID has a wrong check digit
    kid = fourth.kid or ""
    # a check digit wrong under MOD10 and MOD11 alike (one KID in eleven is valid under both)
    bad_kid = next(kid[:-1] + d for d in "0123456789" if not kid_algorithms_of(kid[:-1] + d))
    data = ocr_file(
        [
            Paid(first.kid, first.totals.gross),
            Paid(second.kid, second.totals.gross - 1000),
            Paid(third.kid, 2 * third.totals.gross),
            Paid(bad_kid, fourth.totals.gross),
        ]
    )
    drop(services, "ocr/2027-01-05.txt", data)
    # Then exactly the first and third invoices are paid
    statuses = [the_shop.invoice(i.id).status for i in invoices]
    assert statuses == [InvoiceStatus.PAID, InvoiceStatus.ISSUED, InvoiceStatus.PAID, InvoiceStatus.ISSUED]
    assert the_shop.invoice(second.id).open_amount == 1000
    # And the third customer holds the overpayment as credit
    ledger = ledger_api.http.get(f"/v1/customers/{third.customer_id}/ledger", headers=admin).json_body
    assert ledger["balance"] == {"amount": -third.totals.gross, "currency": "NOK"}
    assert [e["kind"] for e in ledger["entries"]] == ["invoice_issued", "payment_received", "payment_applied"]
    # And the payment with the wrong check digit waits in suspense without holding up the rest
    suspense = ledger_api.http.get("/v1/suspense", headers=admin).json_body["items"]
    assert [(s["reason"], s["amount"]["amount"]) for s in suspense] == [("invalid_kid", fourth.totals.gross)]
    files = ledger_api.http.get("/v1/payment-files", headers=admin).json_body["items"]
    outcomes = files[0]["outcomes"]
    assert outcomes["matched"]["count"] == 3 and outcomes["suspense:invalid_kid"]["count"] == 1
    assert outcomes["paid_invoices"]["count"] == 2
    # When the back office assigns it to the fourth invoice (twice: the same answer)
    for _ in range(2):
        response = ledger_api.http.post(
            f"/v1/suspense/{suspense[0]['id']}/assign",
            headers=admin,
            body=f'{{"invoice_id": "{fourth.id}"}}',
        )
        assert response.status_code == 200, response.body
        assert response.json_body["status"] == "assigned"
    # Then that invoice is paid too, and the suspense list is empty
    assert the_shop.invoice(fourth.id).status == InvoiceStatus.PAID
    assert ledger_api.http.get("/v1/suspense", headers=admin).json_body["items"] == []
    payment = services.ledger.payment(suspense[0]["payment_id"])
    assert payment.status == PaymentStatus.ASSIGNED and payment.became_paid == [fourth.id]
    # And assigning it elsewhere now is a conflict
    response = ledger_api.http.post(
        f"/v1/suspense/{suspense[0]['id']}/assign", headers=admin, body=f'{{"invoice_id": "{first.id}"}}'
    )
    assert response.status_code == 409
    # And the payments report's totals moved from suspense to assigned
    totals = ledger_api.http.get("/v1/payments?from=2027-01-05&to=2027-01-05&status=assigned", headers=admin)
    assert totals.json_body["totals"][0]["count"] == 1


def test_the_same_file_dropped_twice_is_reported_as_a_duplicate_and_changes_nothing(
    services: Services, api: Client, ledger_api: Client, admin: dict[str, str]
) -> None:
    the_shop = shop(services, api, admin)
    invoice = the_shop.order("kari@example.no")
    data = ocr_file([Paid(invoice.kid, invoice.totals.gross)])
    drop(services, "ocr/first.txt", data)
    before = dump_table(services)
    drop(services, "ocr/again.txt", data)
    after = dump_table(services)
    changed = {key for key in after if after[key] != before.get(key)}
    assert len(changed) == 1 and next(iter(changed))[0].startswith("PAYFILE#")
    files = ledger_api.http.get("/v1/payment-files", headers=admin).json_body["items"]
    assert len(files) == 1
    assert files[0]["duplicates"] == 1
    assert [(a["key"], a["duplicate"]) for a in files[0]["arrivals"]] == [
        ("ocr/first.txt", False),
        ("ocr/again.txt", True),
    ]
    assert files[0]["outcomes"]["received"]["count"] == 1


def test_a_malformed_file_is_rejected_whole_with_a_readable_report(
    services: Services, api: Client, ledger_api: Client, admin: dict[str, str]
) -> None:
    the_shop = shop(services, api, admin)
    invoice = the_shop.order("kari@example.no")
    good = ocr_file([Paid(invoice.kid, invoice.totals.gross), Paid(invoice.kid, 100)])
    lines = good.split(b"\n")
    lines[-2] = lines[-2][:24] + b"%017d" % 1 + lines[-2][41:]  # the transmission total is wrong
    services.drainer.drain()  # the order's queued letters go out first: they are not the file's doing
    before = dump_table(services, skip=("INBOUND#", "PAYFILE#"))
    drop(services, "ocr/broken.txt", b"\n".join(lines))
    assert dump_table(services, skip=("INBOUND#", "PAYFILE#")) == before
    files = ledger_api.http.get("/v1/payment-files", headers=admin).json_body["items"]
    assert files[0]["status"] == FileStatus.REJECTED
    assert [r["code"] for r in files[0]["rejected_reasons"]] == ["transmission_sum"]
    assert "transmission end says a total of 1 øre" in files[0]["rejected_reasons"][0]["message"]
    assert the_shop.invoice(invoice.id).status == InvoiceStatus.ISSUED


def test_a_file_too_big_for_one_invocation_is_finished_by_continuations(
    services: Services, api: Client, ledger_api: Client, admin: dict[str, str], monkeypatch: Any
) -> None:
    # Given invocations that run out of time after every chunk of two transactions
    import chalicelib.flows.import_ocr_file as imports
    import functions.ocr_import as function

    monkeypatch.setattr(imports, "CHUNK", 2)
    chunks: list[int] = []

    def one_chunk_each(_: Any, margin_seconds: float = 30.0) -> Any:
        chunks.append(len(chunks))
        return lambda: True

    monkeypatch.setattr(function, "seconds_left", one_chunk_each)
    the_shop = shop(services, api, admin)
    invoices = [the_shop.order(f"kunde{n}@example.no") for n in range(5)]
    # When a file paying all five is dropped
    drop(services, "ocr/big.txt", ocr_file([Paid(i.kid, i.totals.gross) for i in invoices]))
    # Then three invocations (two continuations) import it, each payment once
    assert len(chunks) == 3
    assert all(the_shop.invoice(i.id).status == InvoiceStatus.PAID for i in invoices)
    files = ledger_api.http.get("/v1/payment-files", headers=admin).json_body["items"]
    assert files[0]["status"] == "imported"
    assert files[0]["outcomes"]["received"]["count"] == 5


def test_an_amount_beyond_the_bound_is_left_out_and_reported_while_the_rest_imports(
    services: Services, api: Client, ledger_api: Client, admin: dict[str, str]
) -> None:
    # Given an issued invoice, and a file that pays it and also carries 10^16 øre (a corrupt record)
    the_shop = shop(services, api, admin)
    invoice = the_shop.order("kari@example.no")
    huge = 10**16
    data = ocr_file([Paid(invoice.kid, invoice.totals.gross), Paid(invoice.kid, huge)])
    # When the file arrives
    drop(services, "ocr/huge.txt", data)
    # Then the sound payment is imported and pays the invoice; the huge one is not a payment at all
    assert the_shop.invoice(invoice.id).status == InvoiceStatus.PAID
    payments = ledger_api.http.get("/v1/payments?from=2027-01-05&to=2027-01-05", headers=admin).json_body
    assert [p["amount"]["amount"] for p in payments["items"]] == [invoice.totals.gross]
    # And the report says which transaction was left out, and why
    files = ledger_api.http.get("/v1/payment-files", headers=admin).json_body["items"]
    assert files[0]["status"] == FileStatus.IMPORTED
    assert files[0]["transactions"] == 2
    assert [(r["code"], r["line"]) for r in files[0]["rejected_reasons"]] == [("amount_out_of_bounds", 5)]
    assert files[0]["outcomes"]["rejected"] == {"count": 1, "amount": {"amount": huge, "currency": "NOK"}}
    assert files[0]["outcomes"]["received"]["count"] == 1
