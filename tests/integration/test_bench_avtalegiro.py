"""The AvtaleGiro claim-file benchmark still runs (tiny scale, the session's moto); no timings asserted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import BenchContext, discover, run_benchmark
from bench.avtalegiro import QUICK


@pytest.fixture
def quick(moto_endpoint: str) -> Iterator[BenchContext]:
    context = BenchContext(quick=True, endpoint=moto_endpoint)
    yield context
    context.close()


def test_the_claim_file_benchmark_claims_every_seeded_invoice_and_prints_its_figures(
    quick: BenchContext,
) -> None:
    assert "avtalegiro-claim-file" in {entry.name for entry in discover()}
    [table] = run_benchmark("avtalegiro-claim-file", quick)
    figures = dict(zip(table.column("figure"), table.column("value"), strict=True))
    assert figures["invoices in the claim index (N)"] == QUICK
    assert figures["submission status"] == "written"
    assert figures["claims in the file"] == QUICK
    assert "skipped issued_before_mandate" not in figures
    # every third payer asked for the bank's notice: 2 records a claim, plus the notice's lines
    records = figures["records in the file"]
    assert isinstance(records, int) and records > 4 + 2 * QUICK
    assert isinstance(figures["file size (bytes)"], int) and figures["file size (bytes)"] == 81 * records
    assert figures["S3 requests"] == 1
    dynamodb = figures["DynamoDB requests"]
    assert isinstance(dynamodb, int) and 0 < dynamodb < QUICK
    assert "dynamodb.Scan per invoice" not in figures
    per_invoice = figures["DynamoDB requests per invoice"]
    assert isinstance(per_invoice, str) and float(per_invoice) == pytest.approx(dynamodb / QUICK, abs=0.001)
