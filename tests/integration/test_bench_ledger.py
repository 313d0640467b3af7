"""The ledger's benchmarks still run (tiny scale, the session's moto); no timings asserted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import BenchContext, discover, run_benchmark


@pytest.fixture
def quick(moto_endpoint: str) -> Iterator[BenchContext]:
    context = BenchContext(quick=True, endpoint=moto_endpoint)
    yield context
    context.close()


def test_the_ocr_import_and_pdf_benchmarks_print_their_figures(quick: BenchContext) -> None:
    discover()
    imported, parsed = run_benchmark("ledger-ocr-import", quick)
    figures = dict(zip(imported.column("figure"), imported.column("value"), strict=True))
    assert figures["transactions imported (N)"] == 20
    assert figures["outcome received"] == 20
    assert isinstance(figures["DynamoDB requests per transaction"], float)
    assert 1 <= figures["DynamoDB requests per transaction"] < 3
    assert "dynamodb.Scan per transaction" not in figures
    assert (
        dict(zip(parsed.column("figure"), parsed.column("value"), strict=True))["transactions in file"]
        == 1000
    )
    [pdf] = run_benchmark("invoice-pdf", quick)
    assert pdf.column("runs") == [1]
