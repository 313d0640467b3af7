"""The ledger's figures: an OCR giro file imported through the function against moto (transactions per
second, DynamoDB requests per transaction), the adapter parsing a 100,000-transaction file, and the
time to render one invoice PDF.

Importing 100,000 transactions against moto on a 2-core machine takes about half an hour (each is
one TransactWriteItems, and moto answers a few dozen a second), so the import is measured on a smaller
file and the table prints its N and the extrapolation to 100,000 at the measured rate.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence

import boto3

from bench import BenchContext, Cell, Table, benchmark, median_and_min
from bench.stack import Deployment, stack
from chalicelib.billing.kid import make_invoice_kid
from chalicelib.formats.invoice_pdf import InvoiceDocument, render_invoice_pdf
from chalicelib.formats.ocr import parse_ocr
from infra.awscalls import count_aws_requests
from tests.support.aws import REGION
from tests.support.ledger import invoice_items, make_invoice, seed_customer, seed_seller
from tests.support.ocr import Paid, ocr_file

# ABO_BENCH_OCR_TRANSACTIONS=100000 imports the full file (about 25 minutes against moto here).
FULL_IMPORT = int(os.environ.get("ABO_BENCH_OCR_TRANSACTIONS", "1000"))
QUICK_IMPORT = 20
TARGET = 100_000
KEY = "ocr/bench.txt"


def _payments(invoices: Sequence[tuple[str, int]], count: int) -> list[Paid]:
    """A realistic mix: most pay exactly, some pay too much or too little, some KIDs are unknown or
    broken (they go to suspense)."""
    paid: list[Paid] = []
    for index in range(count):
        kid, gross = invoices[index % len(invoices)]
        bucket = index % 20
        if bucket == 18:
            paid.append(Paid(make_invoice_kid(0, 99_999_999, index), gross))
        elif bucket == 19:
            paid.append(Paid(kid[:-1] + str((int(kid[-1]) + 1) % 10), gross))
        elif bucket in (16, 17):
            paid.append(Paid(kid, gross + 5000 if bucket == 16 else gross - 1000))
        else:
            paid.append(Paid(kid, gross))
    return paid


def _seed(deployment: Deployment, count: int) -> list[tuple[str, int]]:
    """One invoice per transaction, each for its own customer, written in batches (not measured)."""
    services = deployment.services
    seed_seller(services)
    customer = seed_customer(services, "cus_bench", 10001)
    table = (
        boto3.session.Session().resource("dynamodb", region_name=REGION).Table(services.settings.main_table)
    )
    invoices: list[tuple[str, int]] = []
    with table.batch_writer() as batch:
        for number in range(1, count + 1):
            owner = customer.model_copy(update={"id": f"cus_bench_{number}", "number": 20_000 + number})
            invoice = make_invoice(owner, number, 19_900 + (number % 7) * 1000)
            invoices.append((invoice.kid or "", invoice.totals.gross))
            for item in invoice_items(invoice):
                batch.put_item(Item=_plain(item.serialize()))
    return invoices


def _plain(serialized: dict[str, dict[str, str]]) -> dict[str, object]:
    """PynamoDB's attribute-value form as the resource API's plain values."""
    plain: dict[str, object] = {}
    for name, value in serialized.items():
        kind, raw = next(iter(value.items()))
        plain[name] = int(raw) if kind == "N" else raw
    return plain


def _import_figures(context: BenchContext) -> tuple[int, float, Counter[str], dict[str, int]]:
    count = QUICK_IMPORT if context.quick else FULL_IMPORT
    deployment = stack(context).fresh()
    invoices = _seed(deployment, count)
    data = ocr_file(_payments(invoices, count))
    services = deployment.services
    bucket = services.settings.documents_bucket
    services.s3.put_object(Bucket=bucket, Key=KEY, Body=data)
    etag = services.s3.head_object(Bucket=bucket, Key=KEY)["ETag"].strip('"')
    deployment.restart()
    imports = deployment.services.ocr_imports
    with count_aws_requests() as counter:
        started = time.perf_counter()
        result = imports.import_object(bucket, KEY, etag)
        seconds = time.perf_counter() - started
    report = imports.report(result.file_id)
    outcomes = {name: tally.count for name, tally in report.tallies.items()}
    return count, seconds, counter.by_operation(), outcomes


@benchmark("ledger-ocr-import", order=60)
def ocr_import(context: BenchContext) -> Sequence[Table]:
    """An OCR file imported into the ledger, and the adapter's parse of 100,000 transactions."""
    count, seconds, calls, outcomes = _import_figures(context)
    dynamodb = {name: n for name, n in calls.items() if name.startswith("dynamodb.")}
    per_second = count / seconds
    rows: list[list[Cell]] = [
        ["transactions imported (N)", count],
        ["seconds", seconds],
        ["transactions per second", per_second],
        ["DynamoDB requests per transaction", sum(dynamodb.values()) / count],
    ]
    rows += [[f"  {name} per transaction", n / count] for name, n in sorted(dynamodb.items())]
    rows += [
        ["S3 requests", sum(n for name, n in calls.items() if name.startswith("s3."))],
        [f"extrapolated seconds for {TARGET:,}", TARGET / per_second],
    ]
    rows += [[f"outcome {name}", n] for name, n in sorted(outcomes.items())]
    parse_count = 1_000 if context.quick else TARGET
    started = time.perf_counter()
    big = ocr_file(
        [Paid(make_invoice_kid(0, 10_000 + n % 50_000, n), 10_000 + n) for n in range(parse_count)]
    )
    generated = time.perf_counter() - started
    started = time.perf_counter()
    parsed = parse_ocr(big)
    parse_seconds = time.perf_counter() - started
    parse_rows: list[list[Cell]] = [
        ["transactions in file", len(parsed.transactions)],
        ["file size (MB)", len(big) / 1_000_000],
        ["seconds to generate with netsgiro", generated],
        ["seconds to parse and check", parse_seconds],
        ["transactions parsed per second", len(parsed.transactions) / parse_seconds],
    ]
    return [
        Table(
            title=f"OCR giro import into the ledger (in process, moto): N = {count}",
            columns=["figure", "value"],
            rows=rows,
            notes=[
                "one invoice per transaction, each its own customer; 80 % exact, 5 % over, 5 % under,",
                "5 % unknown KID and 5 % wrong check digit (suspense); KIDs, invoices and accounts are",
                "read a hundred at a time, then one TransactWriteItems per transaction",
                f"ABO_BENCH_OCR_TRANSACTIONS={TARGET} imports the full file (about half an hour against",
                "moto here); otherwise the extrapolation assumes the measured rate holds, as the work per",
                "transaction does not grow with the file",
            ],
        ),
        Table(
            title="OCR giro adapter: parse and check one file (netsgiro records + our checks)",
            columns=["figure", "value"],
            rows=parse_rows,
        ),
    ]


@benchmark("invoice-pdf", order=61)
def invoice_pdf(context: BenchContext) -> Table:
    """Milliseconds to render one invoice PDF (ReportLab, in process)."""
    deployment = stack(context).fresh()
    services = deployment.services
    seller = seed_seller(services)
    customer = seed_customer(services, "cus_pdf", 10042)
    invoice = make_invoice(customer, 7, 39_900)
    document = InvoiceDocument(invoice, seller, customer)
    started = time.perf_counter()
    render_invoice_pdf(document)
    first_ms = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(context.runs(30)):
        started = time.perf_counter()
        render_invoice_pdf(document)
        samples.append((time.perf_counter() - started) * 1000)
    median, fastest = median_and_min(samples)
    return Table(
        title="Invoice PDF rendering (ms, in process)",
        columns=["document", "runs", "median", "min", "first"],
        rows=[["invoice, one line, nb", len(samples), median, fastest, first_ms]],
        notes=["first: including ReportLab's one-time font and module set-up in this process"],
    )
