"""The daily AvtaleGiro claim file at scale: N issued AvtaleGiro invoices (each its own customer,
subscription, agreement and active mandate) seeded straight into moto with batch writes (not measured),
then the day's claim run measured: wall time, DynamoDB and S3 requests, the file's size and records.

The issue's figure is 100,000 invoices (``ABO_BENCH_AVTALEGIRO_INVOICES=100000``); by default a smaller N
runs, and the per-invoice figures extrapolate, as the work per invoice does not grow with N (the run reads
the claim index a page at a time and invoices, subscriptions, agreements and mandates a hundred at a time,
and claims 33 invoices per TransactWriteItems).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import boto3

from bench import BenchContext, Cell, Table, benchmark
from bench.stack import CLOCK_START, Deployment, stack
from chalicelib.avtalegiro.claims import claim_index_writes
from chalicelib.avtalegiro.mandates import agreement_kid_writes
from chalicelib.avtalegiro.models import (
    AvtaleGiroConfig,
    EntityAgreement,
    Mandate,
    MandateStatus,
    SubmissionStatus,
    mandate_key,
)
from chalicelib.billing.kid import make_invoice_kid
from chalicelib.billing.models import DatePeriod
from chalicelib.customers.models import Customer
from chalicelib.formats.avtalegiro.claim_files import parse_claim_file
from chalicelib.formats.avtalegiro.mandates import MandateRegistration
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, document_item
from chalicelib.subscriptions.models import (
    AgreementStatus,
    PaymentAgreement,
    Phase,
    Subscription,
    SubscriptionStatus,
)
from chalicelib.subscriptions.writes import subscription_item
from chalicelib.values import PaymentMethod
from infra.awscalls import count_aws_requests
from tests.support.aws import REGION
from tests.support.ledger import invoice_items, make_invoice, seed_customer, seed_seller

TARGET = 100_000
FULL = int(os.environ.get("ABO_BENCH_AVTALEGIRO_INVOICES", "5000"))
QUICK = 40
SELLER = "ent_seed"
DUE = date(2027, 1, 15)  # inside the window of the bench clock (Friday 1 January 2027, 08:00 UTC)


def _items(base: Customer, number: int) -> list[DocumentItem]:
    """One payer: a customer (not stored: the claim run never reads customers), a subscription paid by
    AvtaleGiro, its agreement with the KID of the mandate, the active mandate, and an issued invoice in
    the claim index; every third payer wants the bank's notice (type 21 with specification lines)."""
    customer_id = f"cus_ag_{number}"
    customer_number = 100_000 + number
    agreement_kid = make_invoice_kid(0, customer_number, 0)  # prefix 0: a seeded seller
    agreement = PaymentAgreement(
        id=f"agr_ag_{number}",
        customer_id=customer_id,
        method=PaymentMethod.AVTALEGIRO,
        status=AgreementStatus.ACTIVE,
        kid=agreement_kid,
        created_at=CLOCK_START - timedelta(days=30),
    )
    subscription = Subscription(
        id=f"sub_ag_{number}",
        customer_id=customer_id,
        customer_number=customer_number,
        legal_entity_id=SELLER,
        offer_id="off_bench",
        order_id=f"ord_ag_{number}",
        product_ids=["prd_news"],
        status=SubscriptionStatus.ACTIVE,
        payment_method=PaymentMethod.AVTALEGIRO,
        agreement_id=agreement.id,
        currency="NOK",
        start_date=date(2026, 12, 1),
        phases=[Phase(plan_id="pln_bench", start=date(2026, 12, 1))],
        invoiced_period=DatePeriod(start=date(2027, 1, 1), end=date(2027, 2, 1)),
        created_at=CLOCK_START - timedelta(days=30),
    )
    mandate = Mandate(
        kid=agreement_kid,
        status=MandateStatus.ACTIVE,
        notify=number % 3 == 0,
        registration=MandateRegistration.NEW_OR_CHANGED,
        customer_id=customer_id,
        agreement_ids=[agreement.id],
        active_since=CLOCK_START - timedelta(days=20),
        file_id="bench",
        updated_at=CLOCK_START - timedelta(days=20),
    )
    owner = base.model_copy(update={"id": customer_id, "number": customer_number})
    invoice = make_invoice(owner, number, 19_900 + (number % 7) * 1000).model_copy(
        update={
            "id": f"inv_ag_{number}",
            "payment_method": PaymentMethod.AVTALEGIRO,
            "subscription_id": subscription.id,
            "due_date": DUE,
        }
    )
    return [
        subscription_item(subscription),
        document_item("agreement", keys.agreement(agreement.id), agreement, status=agreement.status),
        *agreement_kid_writes(agreement),
        document_item("avtalegiro_mandate", mandate_key(mandate.kid), mandate, status=mandate.status),
        *invoice_items(invoice),
        *claim_index_writes(invoice),
    ]


def _plain(serialized: dict[str, dict[str, str]]) -> dict[str, object]:
    """PynamoDB's attribute-value form as the resource API's plain values."""
    plain: dict[str, object] = {}
    for name, value in serialized.items():
        kind, raw = next(iter(value.items()))
        plain[name] = int(raw) if kind == "N" else raw
    return plain


def _seed(deployment: Deployment, count: int) -> float:
    """The seller, the configuration and ``count`` payers, written with batch writes; returns seconds."""
    started = time.perf_counter()
    services = deployment.services
    seed_seller(services, SELLER)
    base = seed_customer(services, "cus_bench_owner", 99_999)
    services.avtalegiro.claims.configure(
        AvtaleGiroConfig(
            data_transmitter="55555555",
            agreements={
                SELLER: EntityAgreement(
                    agreement_id="000123456", account="86011117947", bank_notification=True
                )
            },
        )
    )
    table = (
        boto3.session.Session().resource("dynamodb", region_name=REGION).Table(services.settings.main_table)
    )
    with table.batch_writer() as batch:
        for number in range(1, count + 1):
            for item in _items(base, number):
                batch.put_item(Item=_plain(item.serialize()))
    return time.perf_counter() - started


@dataclass(frozen=True)
class ClaimFigures:
    """What one measured claim run did."""

    invoices: int
    seed_seconds: float
    seconds: float
    calls: Counter[str]
    status: SubmissionStatus
    claims: int
    skipped: dict[str, int]
    file_bytes: int
    records: int
    total_amount: int


def measure(context: BenchContext, count: int | None = None) -> ClaimFigures:
    """Seed ``count`` payers on a fresh deployment, then run the day's claim file in a fresh container."""
    count = count if count is not None else (QUICK if context.quick else FULL)
    deployment = stack(context).fresh()
    seed_seconds = _seed(deployment, count)
    deployment.restart()
    claims = deployment.services.avtalegiro.claims
    with count_aws_requests() as counter:
        started = time.perf_counter()
        result = claims.run(CLOCK_START)
        seconds = time.perf_counter() - started
    submission = result.submission
    data = b""
    if submission.key:
        data = deployment.services.s3.get_object(
            Bucket=deployment.services.settings.documents_bucket, Key=submission.key
        )["Body"].read()
    parsed = parse_claim_file(data) if data else None
    return ClaimFigures(
        invoices=count,
        seed_seconds=seed_seconds,
        seconds=seconds,
        calls=counter.by_operation(),
        status=submission.status,
        claims=submission.claims,
        skipped=dict(result.skipped),
        file_bytes=len(data),
        records=parsed.record_count if parsed else 0,
        total_amount=parsed.total_amount if parsed else 0,
    )


def _fine(value: float) -> str:
    """Three decimals (the table prints floats with one)."""
    return f"{value:.3f}"


def _rows(figures: ClaimFigures) -> Sequence[Sequence[Cell]]:
    n = figures.invoices
    dynamodb = {name: calls for name, calls in figures.calls.items() if name.startswith("dynamodb.")}
    s3 = {name: calls for name, calls in figures.calls.items() if name.startswith("s3.")}
    total = sum(dynamodb.values())
    rows: list[list[Cell]] = [
        ["invoices in the claim index (N)", n],
        ["seconds to seed (batch writes, not measured)", figures.seed_seconds],
        ["submission status", figures.status.value],
        ["claims in the file", figures.claims],
        ["seconds (wall) for the claim run", figures.seconds],
        ["milliseconds per invoice", _fine(figures.seconds * 1000 / n)],
        ["DynamoDB requests", total],
        ["DynamoDB requests per invoice", _fine(total / n)],
    ]
    rows += [[f"  {name} per invoice", _fine(calls / n)] for name, calls in sorted(dynamodb.items())]
    rows += [["S3 requests", sum(s3.values())]]
    rows += [[f"  {name}", calls] for name, calls in sorted(s3.items())]
    rows += [
        ["file size (bytes)", figures.file_bytes],
        ["file bytes per invoice", figures.file_bytes / n],
        ["records in the file", figures.records],
        ["file total (øre)", figures.total_amount],
        [f"extrapolated seconds for {TARGET:,}", figures.seconds / n * TARGET],
        [f"extrapolated DynamoDB requests for {TARGET:,}", round(total / n * TARGET)],
        [f"extrapolated file size for {TARGET:,} (MB)", figures.file_bytes / n * TARGET / 1_000_000],
    ]
    rows += [[f"skipped {reason}", calls] for reason, calls in sorted(figures.skipped.items())]
    return rows


@benchmark("avtalegiro-claim-file", order=70)
def claim_file(context: BenchContext) -> Table:
    """The day's claim file over N issued AvtaleGiro invoices with active mandates."""
    figures = measure(context)
    return Table(
        title=f"AvtaleGiro daily claim file (in process, moto): N = {figures.invoices:,}",
        columns=["figure", "value"],
        rows=_rows(figures),
        notes=[
            "one payer per invoice (subscription, agreement, active mandate); every third payer asks",
            "for the bank's notice (type 21 with specification lines), the rest are type 02",
            f"ABO_BENCH_AVTALEGIRO_INVOICES={TARGET} runs the issue's full figure; otherwise the",
            "extrapolation assumes the per-invoice cost holds (reads a hundred at a time, claims 33 per",
            "TransactWriteItems, the lines read back a page at a time)",
        ],
    )
