"""The invoice run's figures: CPU per renewal in the pure engine over 50,000 generated subscriptions,
DynamoDB requests per renewed subscription through the real workers against moto, and the planner's cost
as the number of subscriptions grows (it reads none of them).

Requests are measured at a few hundred subscriptions: moto answers index queries by walking the whole
table, so its time at 50,000 would measure moto, while the request count per renewal does not depend on N.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from bench import BenchContext, Cell, Table, benchmark
from bench.stack import stack
from chalicelib.billing.drafting import Seller
from chalicelib.billing.models import DatePeriod
from chalicelib.billing.renewal import due_for_renewal, renew
from chalicelib.billing.run import InvoiceRun
from chalicelib.catalog.models import Component, LegalEntity, Period, Plan, Product
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE
from chalicelib.clock import SystemClock
from chalicelib.ledger.service import LedgerService
from chalicelib.orders.models import CustomerDetails, OrderRequest
from chalicelib.subscriptions.models import Phase, Subscription, SubscriptionStatus
from chalicelib.subscriptions.timeline import billing_periods
from chalicelib.subscriptions.writes import RENEWAL_SHARDS
from infra.awscalls import count_aws_requests, install
from infra.local.seed import seed_demo_catalog

ENGINE_SUBSCRIPTIONS = 50_000
RUN_SUBSCRIPTIONS = 300


def _catalog(now: datetime) -> tuple[Seller, dict[str, Plan], dict[str, Product]]:
    entity = LegalEntity.model_validate(
        {
            "id": "ent_bench",
            "name": "Bench AS",
            "organization_number": "974760673",
            "address": {"line1": "Gate 1", "postal_code": "0150", "city": "Oslo"},
            "bank_account": "86011117947",
            "created_at": now,
        }
    )
    products = {
        "prd_news": Product(
            id="prd_news",
            legal_entity_id=entity.id,
            name="Avis",
            kind="digital",
            vat_rate_code="news",
            created_at=now,
        ),
        "prd_cross": Product(
            id="prd_cross",
            legal_entity_id=entity.id,
            name="Kryssord",
            kind="digital",
            vat_rate_code="standard",
            created_at=now,
        ),
    }
    plan = Plan(
        id="pln_bench",
        legal_entity_id=entity.id,
        name="Pakke",
        product_ids=list(products),
        currency="NOK",
        price=34900,
        period=Period(unit="month", count=1),
        components=[
            Component(product_id="prd_news", price=29900),
            Component(product_id="prd_cross", price=5000),
        ],
        created_at=now,
    )
    return Seller(entity, DEFAULT_VAT_TABLE), {plan.id: plan}, products


def _subscriptions(count: int, plans: dict[str, Plan], now: datetime) -> list[Subscription]:
    """Subscriptions started on every day of January 2027 (month ends included), first period invoiced."""
    made = []
    for index in range(count):
        start = date(2027, 1, 1) + timedelta(days=index % 31)
        phases = [
            Phase(
                plan_id="pln_bench",
                start=start,
                price=3300 if index % 3 == 0 else None,
                periods=3 if index % 3 == 0 else None,
            )
        ]
        if index % 3 == 0:
            campaign_end = next(p for i, p in enumerate(billing_periods(phases, plans)) if i == 2).period.end
            phases.append(Phase(plan_id="pln_bench", start=campaign_end))
        first = next(billing_periods(phases, plans))
        made.append(
            Subscription(
                id=f"sub_{index:06d}",
                customer_id=f"cus_{index}",
                customer_number=100_000 + index,
                legal_entity_id="ent_bench",
                offer_id="off",
                order_id="ord",
                product_ids=["prd_news", "prd_cross"],
                quantity=1 + index % 2,
                status=SubscriptionStatus.ACTIVE,
                payment_method="invoice",
                agreement_id="agr",
                currency="NOK",
                start_date=start,
                phases=phases,
                invoiced_period=DatePeriod(start=first.period.start, end=first.period.end),
                created_at=now,
            )
        )
    return made


def _engine(context: BenchContext) -> Table:
    count = 2_000 if context.quick else ENGINE_SUBSCRIPTIONS
    now = datetime(2027, 1, 1, 8, 0).astimezone()
    seller, plans, products = _catalog(now)
    subscriptions = _subscriptions(count, plans, now)
    run_date = date(2027, 2, 17)  # every subscription's second period is due (14 days' lead)
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    renewed = 0
    for number, subscription in enumerate(subscriptions, start=1):
        due = due_for_renewal(seller, subscription, plans, run_date)
        if due is not None:
            renew(seller, subscription, due, plans, products, [], number, run_date, now)
            renewed += 1
    cpu = time.process_time() - started_cpu
    wall = time.perf_counter() - started_wall
    return Table(
        title=f"Invoice run, pure engine: {count:,} generated subscriptions",
        columns=["figure", "value", "goal"],
        rows=[
            ["subscriptions renewed", renewed, None],
            ["CPU seconds", cpu, None],
            ["CPU ms per subscription", cpu * 1000 / count, "< 1.0"],
            ["wall seconds", wall, None],
        ],
        notes=[
            "due check + issued invoice (2 lines, VAT per rate) + next draft per subscription;",
            "a third on a 3-month campaign, anchors on every day of January (31st included)",
        ],
    )


def _requests(context: BenchContext) -> Sequence[Table]:
    install()
    count = 12 if context.quick else RUN_SUBSCRIPTIONS
    deployment = stack(context).fresh()
    services = deployment.services
    seeded = seed_demo_catalog(services.catalog)
    assert seeded is not None
    with count_aws_requests() as planner_empty:
        services.invoice_run.plan(date(2027, 1, 18))
    for index in range(count):
        services.orders.place(
            OrderRequest(
                offer_id=seeded.offer_ids["bundle"],
                payment_method="invoice",
                customer=CustomerDetails(type="person", name=f"K {index}", email=f"k{index}@example.no"),
            )
        )
    run_date = date(2027, 1, 18)
    with count_aws_requests() as planner_full:
        services.invoice_run.plan(run_date)
    now = services.clock.now()
    # As in production: system time (the stored test clock would add a read per ledger posting).
    production_ledger = LedgerService(services.documents, SystemClock())
    worker = InvoiceRun(services.documents, services.fees, services.sqs, "", production_ledger)
    with count_aws_requests() as counter:
        issued = sum(
            len(worker.work(run_date, shard, run_date, now).issued) for shard in range(RENEWAL_SHARDS)
        )
    dynamodb = {name: n for name, n in counter.by_operation().items() if name.startswith("dynamodb.")}
    reads = sum(n for name, n in dynamodb.items() if not name.endswith(("TransactWriteItems", "PutItem")))
    rows: list[list[Cell]] = [
        ["subscriptions renewed", issued],
        ["DynamoDB requests per renewed subscription", sum(dynamodb.values()) / max(issued, 1)],
        ["  reads (queries, batch gets, gets) per renewal", reads / max(issued, 1)],
        ["  TransactWriteItems per renewal", dynamodb.get("dynamodb.TransactWriteItems", 0) / max(issued, 1)],
    ]
    rows += [[f"  {name}", n] for name, n in sorted(dynamodb.items())]
    planner = Table(
        title="Invoice run planner: cost as subscriptions grow",
        columns=["subscriptions", "DynamoDB requests", "SQS requests"],
        rows=[
            [0, planner_empty.count(service="dynamodb"), planner_empty.count(service="sqs")],
            [count, planner_full.count(service="dynamodb"), planner_full.count(service="sqs")],
        ],
        notes=[f"the planner queues {RENEWAL_SHARDS} work items (one per shard) and reads no subscription"],
    )
    return [
        Table(
            title=f"Invoice run workers (in process, moto): {count} subscriptions due",
            columns=["figure", "value"],
            rows=rows,
            notes=[
                "production clock (system time); one GSI page query per 48 due subscriptions, one",
                "BatchGetItem for them and their drafts, one for their ledger accounts per batch, one",
                "transaction per 12 renewals; per-shard reads (seller, counter, ledger settings) amortise",
            ],
        ),
        planner,
    ]


@benchmark("invoice-run", order=70)
def invoice_run(context: BenchContext) -> Sequence[Table]:
    """The pure engine over 50,000 subscriptions, then the workers' requests against moto."""
    return [_engine(context), *_requests(context)]
