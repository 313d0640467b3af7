"""`make bench` still runs: its sections on a tiny scale, against the session's moto. No timings asserted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import BenchContext, Table, discover, run_benchmark
from bench.__main__ import main
from bench.coldstart import handlers, import_ms

CORE_OPERATIONS = [
    "GET /health",
    "GET /v1/test/clock",
    "POST /v1/test/clock (+1 day)",
    "S3 OCR drop → drain",
]


@pytest.fixture
def quick(moto_endpoint: str) -> Iterator[BenchContext]:
    context = BenchContext(quick=True, endpoint=moto_endpoint)
    yield context
    context.close()


def operation_rows(table: Table) -> list[str]:
    return [str(row[0]) for row in table.rows if not str(row[0]).startswith(" ")]


def test_every_section_is_registered() -> None:
    assert {"cold-start", "aws-requests", "latency"} <= {entry.name for entry in discover()}


def test_counts_requests_per_operation_and_times_them(quick: BenchContext) -> None:
    discover()
    [table] = run_benchmark("aws-requests", quick)
    names = operation_rows(table)
    assert [name for name in names if name in CORE_OPERATIONS] == CORE_OPERATIONS
    for row in table.rows:
        first, warm = row[1], row[2]
        assert isinstance(first, int)
        assert isinstance(warm, int)
        if str(row[0]).startswith(" "):
            assert first >= 0 and warm >= 0 and first + warm > 0, row
            assert "." in str(row[0]), row
        else:
            assert first > 0 and warm > 0, row
    assert not any("dynamodb.Scan" in str(row[0]) for row in table.rows)  # no scans on these paths
    text = table.render()
    for name in [*CORE_OPERATIONS, "  dynamodb.GetItem", "  s3.PutObject", "  sqs.ReceiveMessage"]:
        assert name in text
    # The latency section reuses the operations measured above.
    [latency] = run_benchmark("latency", quick)
    assert [name for name in operation_rows(latency) if name in CORE_OPERATIONS] == CORE_OPERATIONS
    assert set(latency.column("runs")) == {1}


def test_cold_start_imports_each_handler_in_a_child() -> None:
    names = dict(handlers())
    assert names["API"] == "app.app"
    assert set(names) >= {"HeartbeatFunction", "OcrImportFunction"}
    assert import_ms("app.app") > 0


def test_lists_the_benchmarks(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    assert "aws-requests" in capsys.readouterr().out.split()
