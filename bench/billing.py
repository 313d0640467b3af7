"""The invoice run's figures: CPU per renewal in the pure engine over 50,000 generated subscriptions, and
the real workers (in process, against the local engine) over a table of 50,000 subscriptions generated
straight into it with batch writes, of which ``ABO_BENCH_RUN_SUBSCRIPTIONS`` (default 5,000; set 50000 to
have them all due) are due on the run day, spread over the renewal index's shards: wall time, DynamoDB
requests per renewed subscription, and the planner's requests as the table grows (it reads none of them).

The local engine answers a Query from the partition it names (infra/emulator.py), so the workers' page
queries cost what they cost in DynamoDB, not a walk of the whole table as in plain moto; the time per
renewal does not grow with the table, and the projection to 50,000 due is printed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bench import BenchContext, Cell, Table, benchmark
from bench.stack import stack
from chalicelib.billing.drafting import Seller, build_draft
from chalicelib.billing.drafts import document_item_for, renewal_index_date
from chalicelib.billing.models import DatePeriod
from chalicelib.billing.renewal import due_for_renewal, renew
from chalicelib.catalog.models import Component, LegalEntity, Offer, Period, Plan, Product
from chalicelib.catalog.plans import load_plan_chain, load_products
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE
from chalicelib.clock import SystemClock
from chalicelib.container import Services
from chalicelib.flows.invoice_run import InvoiceRun
from chalicelib.ids import new_id
from chalicelib.ledger.service import LedgerService
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem
from chalicelib.subscriptions.models import Phase, Subscription, SubscriptionStatus
from chalicelib.subscriptions.timeline import billing_periods, phases_for_order
from chalicelib.subscriptions.writes import RENEWAL_SHARDS, subscription_item
from infra.awscalls import count_aws_requests, install
from infra.local.seed import seed_demo_catalog

ENGINE_SUBSCRIPTIONS = 50_000
TABLE_SUBSCRIPTIONS = 50_000  # generated into the table; those not due renew on other days
# Due on the run day: ABO_BENCH_RUN_SUBSCRIPTIONS overrides; 50,000 (all) takes ~12 minutes on 2 busy cores,
# so the default is what keeps `make bench` reasonable, and the 50,000 projection is printed.
RUN_SUBSCRIPTIONS = 5_000
QUICK_TABLE_SUBSCRIPTIONS = 120
QUICK_RUN_SUBSCRIPTIONS = 90
PLANNER_SIZES = (1_000, 10_000, 50_000)


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
    for subscription in subscriptions:
        due = due_for_renewal(seller, subscription, plans, run_date)
        if due is not None:
            renew(seller, subscription, due, plans, products, [], run_date, now)
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


def _run_subscriptions(context: BenchContext) -> int:
    if context.quick:
        return QUICK_RUN_SUBSCRIPTIONS
    configured = os.environ.get("ABO_BENCH_RUN_SUBSCRIPTIONS", "").strip()
    return int(configured) if configured else RUN_SUBSCRIPTIONS


@dataclass(frozen=True)
class _GeneratedCatalog:
    seller: Seller
    offers: list[tuple[Offer, Plan]]
    plans: dict[str, Plan]
    products: dict[str, Product]


def _generated_catalog(services: Services) -> _GeneratedCatalog:
    seeded = seed_demo_catalog(services.catalog)
    assert seeded is not None
    store = services.documents
    entity = store.get_document(keys.legal_entity(seeded.legal_entity_id).pk, "ENTITY", LegalEntity)
    assert entity is not None
    offers = []
    for name in ("monthly", "campaign", "bundle"):
        offer = store.get_document(keys.offer(seeded.offer_ids[name]).pk, "OFFER", Offer)
        assert offer is not None
        offers.append(offer)
    plans = load_plan_chain(store, {offer.plan_id for offer in offers})
    products = load_products(store, plans.values())
    return _GeneratedCatalog(
        Seller(entity, DEFAULT_VAT_TABLE), [(o, plans[o.plan_id]) for o in offers], plans, products
    )


def _generate(catalog: _GeneratedCatalog, first: int, count: int, due: int, now: datetime) -> int:
    """Write ``count`` subscriptions (numbered from ``first``) as an order leaves them: the first period
    invoiced, the next one drafted and in the renewal index for its invoice date. Those numbered below
    ``due`` start on 1 January 2027 (their February is issued on 18 January), the others later in January.
    Batch writes of 25."""
    today = now.date()
    written = 0
    with DocumentItem.batch_write() as batch:
        for index in range(first, first + count):
            start = date(2027, 1, 1) + timedelta(days=0 if index < due else 1 + index % 27)
            offer, plan = catalog.offers[index % len(catalog.offers)]
            phases = phases_for_order(offer, plan, start)
            periods = billing_periods(phases, catalog.plans)
            first_period, second_period = next(periods), next(periods)
            subscription = Subscription(
                id=new_id("sub"),
                customer_id=new_id("cus"),
                customer_number=100_000 + index,
                legal_entity_id=catalog.seller.entity.id,
                offer_id=offer.id,
                order_id=new_id("ord"),
                product_ids=plan.product_ids,
                quantity=1 + index % 2,
                status=SubscriptionStatus.ACTIVE,
                payment_method="invoice",
                agreement_id=new_id("agr"),
                currency=plan.currency.value,
                start_date=start,
                phases=phases,
                invoiced_period=first_period.dates,
                created_at=now,
            )
            draft = build_draft(catalog.seller, subscription, second_period, catalog.products, [], now)
            subscription = subscription.model_copy(
                update={"next_invoice_id": draft.id, "next_invoice_date": renewal_index_date(draft, today)}
            )
            batch.save(subscription_item(subscription))
            batch.save(document_item_for(draft))
            written += 2
    return written


def _workers(context: BenchContext) -> Sequence[Table]:
    install()
    count = _run_subscriptions(context)
    total = max(count, QUICK_TABLE_SUBSCRIPTIONS if context.quick else TABLE_SUBSCRIPTIONS)
    checkpoints = sorted({size for size in PLANNER_SIZES if size < total} | {total})
    if context.quick:
        checkpoints = sorted({max(1, total // 10), total // 2, total})
    deployment = stack(context).fresh()
    services = deployment.services
    catalog = _generated_catalog(services)
    run_date = date(2027, 1, 18)  # the second period (from 1 February) is issued 14 days ahead
    now = services.clock.now()
    planner_rows: list[list[Cell]] = []
    generated, items, generation_seconds = 0, 0, 0.0
    for checkpoint in checkpoints:
        started = time.perf_counter()
        items += _generate(catalog, generated, checkpoint - generated, count, now)
        generation_seconds += time.perf_counter() - started
        generated = checkpoint
        with count_aws_requests() as planned:
            services.invoice_run.plan(run_date)
        planner_rows.append(
            [checkpoint, planned.count(service="dynamodb"), planned.count(service="sqs"), planned.total]
        )
    # As in production: system time (the stored test clock would add a read per ledger posting).
    production_ledger = LedgerService(services.documents, SystemClock())
    worker = InvoiceRun(services.documents, services.fees, services.sqs, "", production_ledger)
    reports = []
    with count_aws_requests() as counter:
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for shard in range(RENEWAL_SHARDS):
            reports.append(worker.work(run_date, shard, run_date, now))
        wall = time.perf_counter() - started_wall
        cpu = time.process_time() - started_cpu
    issued = sum(len(report.issued) for report in reports)
    per_shard = [len(report.issued) for report in reports]
    dynamodb = {name: n for name, n in counter.by_operation().items() if name.startswith("dynamodb.")}
    writes = dynamodb.get("dynamodb.TransactWriteItems", 0)
    other_writes = sum(
        n
        for name, n in dynamodb.items()
        if name.endswith(("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"))
    )
    reads = sum(dynamodb.values()) - writes - other_writes
    renewed = max(issued, 1)
    rows: list[list[Cell]] = [
        ["subscriptions in the table", total],
        ["subscriptions due (N)", count],
        ["subscriptions renewed", issued],
        ["wall seconds (16 shards, one after the other)", wall],
        ["wall ms per renewal", wall * 1000 / renewed],
        ["process CPU ms per renewal (workers + local engine)", cpu * 1000 / renewed],
        ["DynamoDB requests per renewed subscription", f"{sum(dynamodb.values()) / renewed:.3f}"],
        ["  reads (queries, batch gets, gets) per renewal", f"{reads / renewed:.3f}"],
        ["  TransactWriteItems per renewal", f"{writes / renewed:.3f}"],
        ["  other writes per renewal", f"{other_writes / renewed:.3f}"],
    ]
    rows += [[f"  {name}", n] for name, n in sorted(dynamodb.items())]
    notes = [
        f"{items:,} items generated with BatchWriteItem in {generation_seconds:.1f} s (not measured);",
        f"renewals per shard: {min(per_shard)}..{max(per_shard)}; production clock (system time);",
        "one GSI page query per 48 due subscriptions, one BatchGetItem for them and one for their drafts,",
        "one for the ledger accounts and one TransactWriteItems per 11 renewals; per-shard reads amortise",
        "goal: at most 1 read and 1 transactional write per renewed subscription",
    ]
    if count < PLANNER_SIZES[-1]:
        notes.append(
            f"projected wall for {PLANNER_SIZES[-1]:,} due: {wall / renewed * PLANNER_SIZES[-1]:.0f} s "
            "(linear: a page query reads its partition only); ABO_BENCH_RUN_SUBSCRIPTIONS=50000 runs it"
        )
    workers = Table(
        title=f"Invoice run workers (in process, local engine): {count:,} of {total:,} subscriptions due",
        columns=["figure", "value"],
        rows=rows,
        notes=notes,
    )
    planner = Table(
        title="Invoice run planner: cost as subscriptions grow",
        columns=["subscriptions", "DynamoDB requests", "SQS requests", "all AWS requests"],
        rows=planner_rows,
        notes=[
            "the planner reads the due index up to the run date (one query per 1,000 entries due) and queues",
            f"a work item per (day, shard) with something due: at most {RENEWAL_SHARDS} for one day",
        ],
    )
    return [workers, planner]


@benchmark("invoice-run", order=70)
def invoice_run(context: BenchContext) -> Sequence[Table]:
    """The pure engine over 50,000 subscriptions, then the workers over N generated subscriptions."""
    return [_engine(context), *_workers(context)]
