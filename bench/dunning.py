"""The dunning run's figures: DynamoDB requests per dunned invoice through the real worker against moto,
and the run's cost as overdue invoices grow (the planner reads nothing; a worker pays per invoice due).

Each invoice is taken through its reminder day: one work item per shard reads the day's partition, the
cases and invoices, the customers, and takes the step (a fee document in the invoice series with its ledger
entry, the letter through SES, the case moved on)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import boto3

from bench import BenchContext, Cell, Table, benchmark
from bench.stack import stack
from chalicelib.dunning.index import DUNNING_SHARDS
from chalicelib.dunning.plans import DunningPlan, DunningStep, StepKind
from chalicelib.money import Currency, Money
from chalicelib.orders.models import CustomerDetails, OrderRequest
from infra.awscalls import count_aws_requests, install
from infra.local.seed import seed_demo_catalog

SIZES = (0, 10, 40)
PLAN = DunningPlan(
    id="dpl_bench",
    name="Bench",
    country="NO",
    currency=Currency.NOK,
    steps=(
        DunningStep(
            key="reminder-1", kind=StepKind.REMINDER, days=14, fee=Money(3500, Currency.NOK), deadline_days=14
        ),
        DunningStep(key="notice", kind=StepKind.COLLECTION_NOTICE, days=28, deadline_days=14),
        DunningStep(key="hand-off", kind=StepKind.HAND_OFF, days=42),
    ),
)


def _run(context: BenchContext, overdue: int) -> tuple[int, dict[str, int], int]:
    deployment = stack(context).fresh()
    services = deployment.services
    seeded = seed_demo_catalog(services.catalog)
    assert seeded is not None
    boto3.client("ses", region_name=services.settings.region).verify_email_identity(
        EmailAddress=services.settings.notification_from_address
    )
    dunning = services.dunning
    entity_id = next(iter(services.catalog.legal_entities(100, None).items)).id
    dunning.service.create_plan(entity_id, PLAN, default=True)
    for index in range(overdue):
        order = services.orders.place(
            OrderRequest(
                offer_id=seeded.offer_ids["bundle"],
                payment_method="invoice",
                customer=CustomerDetails(type="person", name=f"K {index}", email=f"k{index}@example.no"),
            )
        )
        # The order's first invoice already has its dunning case (written where every document is issued).
        assert services.documents.get(f"DUNNING#{order.invoice_id}", "CASE") is not None
    due = date(2027, 1, 15)  # every order of 1 January is due on the 15th
    now = services.clock.now()
    for shard in range(DUNNING_SHARDS):  # the due date: each case moves to its reminder day
        dunning.run.work(due, shard, due, now)
    reminder_day = date(2027, 1, 29)
    with count_aws_requests() as counter:
        reminded = sum(
            len(dunning.run.work(reminder_day, shard, reminder_day, now).reminded)
            for shard in range(DUNNING_SHARDS)
        )
    dynamodb = {name: n for name, n in counter.by_operation().items() if name.startswith("dynamodb.")}
    return reminded, dynamodb, counter.count(service="ses") + counter.count(service="s3")


@benchmark("dunning-run", order=75)
def dunning_run(context: BenchContext) -> Sequence[Table]:
    """Requests per reminded invoice, and the run's requests as overdue invoices grow."""
    install()
    sizes = (0, 4) if context.quick else SIZES
    rows: list[list[Cell]] = []
    detail: dict[str, int] = {}
    per_invoice: float | None = None
    for size in sizes:
        reminded, dynamodb, other = _run(context, size)
        total = sum(dynamodb.values())
        rows.append([size, reminded, total, other, total / reminded if reminded else None])
        if reminded:
            detail, per_invoice = dynamodb, total / reminded
    figures: list[list[Cell]] = [["DynamoDB requests per reminded invoice", per_invoice]]
    figures += [[f"  {name}", n] for name, n in sorted(detail.items())]
    return [
        Table(
            title="Dunning run: the reminder day's cost as overdue invoices grow (16 shards, moto)",
            columns=[
                "overdue invoices",
                "reminded",
                "DynamoDB requests",
                "SES+S3 requests",
                "DynamoDB per invoice",
            ],
            rows=rows,
            notes=[
                "fixed cost of the workers here: 16 partition and 16 hand-off queries (all shards worked;",
                "the planner queues only the shards the due index lists);",
                "per invoice: its share of the page's BatchGetItems, the invoice counter and ledger",
                "account reads, the step's transaction, the sender's claim and confirmation, the move",
            ],
        ),
        Table(
            title="Dunning run: requests per reminded invoice (largest size)",
            columns=["figure", "value"],
            rows=figures,
        ),
    ]
