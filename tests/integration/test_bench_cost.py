"""The subscriber-month cost benchmark still runs (one subscriber of each payment method, the session's moto,
both simulators): a month of every method is lived through, every invoice of it paid, and every kind of
request counted and priced. No timings asserted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import BenchContext, Table, discover, run_benchmark
from bench.cost import METHODS, QUICK_PER_METHOD


@pytest.fixture
def quick(moto_endpoint: str) -> Iterator[BenchContext]:
    context = BenchContext(quick=True, endpoint=moto_endpoint)
    yield context
    context.close()


def by_first_column(table: Table) -> dict[str, list[object]]:
    return {str(row[0]).strip(): list(row[1:]) for row in table.rows}


def test_the_subscriber_month_is_counted_by_kind_and_priced_in_nok(quick: BenchContext) -> None:
    assert "subscriber-month" in {entry.name for entry in discover()}
    summary, detail = run_benchmark("subscriber-month", quick)
    assert f"{QUICK_PER_METHOD * len(METHODS)} subscribers" in summary.title
    rows = by_first_column(summary)
    # requests, units, NOK per subscriber-month (the bench fails unless every invoice of the month is paid)
    dynamodb = rows["DynamoDB"]
    assert float(str(dynamodb[0])) > 10  # a renewal, its charge or payment, its e-mail: many calls
    assert "RRU" in str(dynamodb[1]) and "WRU" in str(dynamodb[1])
    for service in ("SQS", "S3", "Lambda", "SES"):
        assert float(str(rows[service][0])) > 0, service
        assert float(str(rows[service][2])) > 0, service
    assert "GB-s" in str(rows["Lambda"][1])
    assert float(str(rows["SNS (SMS excluded)"][0])) == 0.0  # the platform publishes nothing to SNS
    total = float(str(rows["total per subscriber-month"][2]))
    parts = sum(
        float(str(row[2])) for name, row in rows.items() if name not in ("total per subscriber-month", "aim")
    )
    assert total == pytest.approx(parts, abs=1e-5)
    assert float(str(rows["aim"][2])) == 0.01
    assert any("USD→NOK" in note for note in summary.notes)
    operations = by_first_column(detail)
    assert float(str(operations["ses.SendRawEmail"][0])) >= 1  # at least the March invoice's e-mail
    assert float(str(operations["lambda InvoiceWorkerFunction"][0])) > 0
    assert "dynamodb.Scan" not in operations
