"""The invoice-run benchmark still runs (tiny scale, the session's local engine); no timings asserted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import BenchContext, discover, run_benchmark
from bench.billing import QUICK_RUN_SUBSCRIPTIONS, QUICK_TABLE_SUBSCRIPTIONS


@pytest.fixture
def quick(moto_endpoint: str) -> Iterator[BenchContext]:
    context = BenchContext(quick=True, endpoint=moto_endpoint)
    yield context
    context.close()


def test_the_workers_renew_every_generated_subscription_and_the_planner_reads_one_query(
    quick: BenchContext,
) -> None:
    assert "invoice-run" in {entry.name for entry in discover()}
    engine, workers, planner = run_benchmark("invoice-run", quick)
    assert (
        dict(zip(engine.column("figure"), engine.column("value"), strict=True))["subscriptions renewed"]
        == 2000
    )
    figures = dict(zip(workers.column("figure"), workers.column("value"), strict=True))
    assert figures["subscriptions due (N)"] == QUICK_RUN_SUBSCRIPTIONS
    assert figures["subscriptions in the table"] == QUICK_TABLE_SUBSCRIPTIONS
    assert figures["subscriptions renewed"] == QUICK_RUN_SUBSCRIPTIONS
    assert 0 < float(str(figures["  TransactWriteItems per renewal"])) <= 1
    assert figures["  dynamodb.Query"] == 16  # one page per shard at this size
    assert "  dynamodb.Scan" not in figures
    assert planner.column("subscriptions") == [12, 60, QUICK_TABLE_SUBSCRIPTIONS]
    assert set(planner.column("DynamoDB requests")) == {1}  # the due index, up to the run date
    # a work item per shard holding a renewal due (at most 16), ten a batch: one or two batches
    assert set(planner.column("SQS requests")) <= {1, 2}
    assert planner.column("SQS requests")[-1] == 2  # at the largest size every shard has one due
