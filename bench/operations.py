"""AWS requests and in-process latency of every registered operation (see :mod:`bench.stack`)."""

from __future__ import annotations

import statistics

from bench import BenchContext, Cell, Table, benchmark, median_and_min
from bench.stack import measure_all


@benchmark("aws-requests", order=20)
def aws_requests(context: BenchContext) -> Table:
    """Calls per operation, in total and by ``service.Operation``, first and warm."""
    rows: list[list[Cell]] = []
    for figures in measure_all(context):
        first, warm = figures.first_calls, figures.warm_calls
        rows.append([figures.operation.name, first.total(), warm.total()])
        for name in sorted(set(first) | set(warm)):
            rows.append([f"  {name}", first[name], warm[name]])
    return Table(
        title="AWS requests per operation (in process, moto)",
        columns=["operation / service.Operation", "first", "warm"],
        rows=rows,
        notes=[
            "first: the first run in a fresh container; warm: the next run",
            "counted with infra.awscalls: one per API call, retries not included",
        ],
    )


@benchmark("latency", order=30)
def latency(context: BenchContext) -> Table:
    """Milliseconds per operation in process against moto: median, minimum and the first run."""
    rows: list[list[Cell]] = []
    for figures in measure_all(context):
        median, fastest = median_and_min(figures.timings_ms)
        goal = figures.operation.goal_ms
        status = None if goal is None else ("PASS" if median < goal else "OVER")
        rows.append(
            [
                figures.operation.name,
                len(figures.timings_ms),
                median,
                fastest,
                _p90(figures.timings_ms),
                figures.first_ms,
                goal,
                status,
            ]
        )
    return Table(
        title="Latency per operation (ms, in process, moto on loopback)",
        columns=["operation", "runs", "median", "min", "p90", "first", "goal", "status"],
        rows=rows,
        notes=[
            "median, min and p90 over warm runs; first: run 0 in a fresh container, including the",
            "one-time lazy imports of whatever this process had not imported yet",
        ],
    )


def _p90(samples: list[float]) -> float:
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=10, method="inclusive")[-1]
