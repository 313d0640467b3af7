"""The test clock's figures: what a day on which nothing falls due costs, and how long a simulated year takes,
on an empty platform and with subscriptions.

An advance is measured as the clock-advance function works it (``ClockService.advance``: every local day
stepped, every scheduled moment run in process with the work it queues), against moto. The request count
is AWS's billing unit: each DynamoDB, SQS, S3, SES or SNS API call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import timedelta

from bench import BenchContext, Cell, Table, benchmark
from bench.stack import CLOCK_START, Deployment, stack
from chalicelib.orders.models import CustomerDetails, OrderRequest
from infra.awscalls import count_aws_requests, install
from infra.local.seed import seed_demo_catalog

EMPTY_DAY_GOAL = 10
YEAR_GOAL_SECONDS = 60.0
# Subscriptions of the loaded year. The figure is 1,000 (ABO_BENCH_CLOCK_SUBSCRIPTIONS=1000; about
# 47 minutes on 2 busy cores, as the year's time grows with them); the default keeps `make bench` short.
SUBSCRIPTIONS = int(os.environ.get("ABO_BENCH_CLOCK_SUBSCRIPTIONS", "25"))


def _started(context: BenchContext) -> Deployment:
    """A fresh deployment whose every schedule has run once (the first minute of the clock)."""
    deployment = stack(context).fresh()
    services = deployment.services
    # SES sends only from a verified address (the notices of a simulated year are sent).
    services.ses.verify_email_identity(EmailAddress=services.settings.notification_from_address)
    services.clock_service.advance(CLOCK_START + timedelta(minutes=1))
    return deployment


def _place(deployment: Deployment, count: int) -> None:
    """``count`` orders of the demo catalog's monthly offer, paid by invoice."""
    services = deployment.services
    seeded = seed_demo_catalog(services.catalog)
    assert seeded is not None
    for index in range(count):
        services.orders.place(
            OrderRequest(
                offer_id=seeded.offer_ids["monthly"],
                payment_method="invoice",
                customer=CustomerDetails(type="person", name=f"K {index}", email=f"k{index}@example.no"),
            )
        )


def _year(deployment: Deployment) -> float:
    started = time.perf_counter()
    deployment.services.clock_service.advance(CLOCK_START + timedelta(days=365))
    return time.perf_counter() - started


@benchmark("test-clock", order=15)
def test_clock(context: BenchContext) -> Sequence[Table]:
    """AWS requests of an empty day, and seconds per simulated year."""
    install()
    deployment = _started(context)
    # One day's advance (the request's own reads and writes included), then a week's: the week's requests
    # less the day's, over the six more days, is what each further empty day costs.
    with count_aws_requests() as one_day:
        deployment.services.clock_service.advance(CLOCK_START + timedelta(days=1))
    with count_aws_requests() as week:
        deployment.services.clock_service.advance(CLOCK_START + timedelta(days=8))
    per_day = (week.total - one_day.total) / 6
    rows: list[list[Cell]] = [
        ["AWS requests per empty day crossed (a week's advance)", per_day, EMPTY_DAY_GOAL],
        ["AWS requests, an advance of one empty day", one_day.total, None],
    ]
    rows += [[f"  {name}", count, None] for name, count in sorted(one_day.by_operation().items())]

    empty_year = _year(_started(context)) if not context.quick else None
    rows.append(["seconds to advance a year, empty platform", empty_year, YEAR_GOAL_SECONDS])
    size = 20 if context.quick else SUBSCRIPTIONS
    loaded = _started(context)
    _place(loaded, size)
    loaded_year = _year(loaded)
    rows.append([f"seconds to advance a year, {size} subscriptions", loaded_year, None])
    rows.append([f"  seconds per subscription-year ({size} subscriptions)", loaded_year / size, None])
    return [
        Table(
            title="Test clock: an empty day's AWS requests and a simulated year (moto, in process)",
            columns=["figure", "value", "goal"],
            rows=rows,
            notes=[
                "an empty day crossed: the clock item written once; one query of the due index each for the",
                "invoice run, dunning run, charging (charges, retries, resumes) and polling; card expiry's",
                "three queries; the heartbeat's write and the claims job's settings read. A year with",
                "subscriptions includes their renewals, e-mails with PDFs, and dunning of the unpaid ones;",
                f"ABO_BENCH_CLOCK_SUBSCRIPTIONS sets their number ({SUBSCRIPTIONS} now; the issue's: 1,000)",
            ],
        )
    ]
