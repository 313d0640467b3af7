"""The payment renewals benchmark still runs (tiny scale, the session's moto, both simulators) and its
figures stay within what the code does today; no timings asserted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench import BenchContext, Cell, discover, run_benchmark
from bench.payments import QUICK, RENEWAL_GOAL


@pytest.fixture
def quick(moto_endpoint: str) -> Iterator[BenchContext]:
    context = BenchContext(quick=True, endpoint=moto_endpoint)
    yield context
    context.close()


def per_sub(value: Cell) -> float:
    assert isinstance(value, str), value
    return float(value)


def test_the_payment_renewals_benchmark_counts_provider_and_dynamodb_requests_per_renewal(
    quick: BenchContext,
) -> None:
    assert "payment-renewals" in {entry.name for entry in discover()}
    summary, detail = run_benchmark("payment-renewals", quick)
    rows = {(str(row[0]), str(row[1]).split(" (")[0]): row for row in summary.rows}
    # method, phase, subscriptions, provider requests, per sub, DynamoDB requests, per sub, ms per sub
    for method in ("vipps", "card"):
        charging = rows[(method, "charging job")]
        callback = rows[(method, "settling by webhook: callback")]
        worker = rows[(method, "settling by webhook: worker")]
        polling = rows[(method, "settling by polling")]
        assert charging[2] == QUICK and callback[2] == worker[2] == polling[2] == QUICK // 2
        assert isinstance(charging[3], int) and charging[3] >= QUICK  # at least one provider call each
        assert callback[3] == 0 and per_sub(callback[6]) == 2.0  # the event recorded, then marked queued
        # The charging job: its reads batched (a few BatchGetItems a chunk of invoices), then two
        # transactions a renewal (the record marked, then opened); a card is paid on creation, so its
        # settlement (one BatchGetItem, one transaction) is part of the job.
        assert 0 < per_sub(charging[6]) <= (2.25 if method == "vipps" else 4.25)
        # The worker: Vipps' record with its invoice (the charge id is the invoice's), the account, settings
        # and seller, and one transaction for the payment and the record; a card's reference, then its
        # record, already paid.
        assert 0 < per_sub(worker[6]) <= (3.0 if method == "vipps" else 2.0)
        assert per_sub(rows[(method, "renewal settled by webhook")][6]) <= (7.3 if method == "vipps" else 8.3)
        assert per_sub(rows[(method, "renewal settled by polling")][6]) <= RENEWAL_GOAL
    vipps = {phase: per_sub(row[4]) for (method, phase), row in rows.items() if method == "vipps"}
    card = {phase: per_sub(row[4]) for (method, phase), row in rows.items() if method == "card"}
    # Vipps: one create-charge per renewal, one fetch to settle it; the access token once per container.
    assert 1.0 < vipps["charging job"] <= 1.05
    assert 1.0 < vipps["settling by webhook: worker"] <= 1.1
    assert 1.0 < vipps["settling by polling"] <= 1.1
    # Cards: the saved card, the PaymentIntent created and fetched; the webhook's fetch; nothing to poll.
    assert card["charging job"] == 3.0
    assert card["settling by webhook: worker"] == 1.0
    assert card["settling by polling"] == 0.0
    operations = {str(row[0]).strip(): row[1] for row in detail.rows}
    assert operations["vipps POST /recurring/v3/agreements/{id}/charges"] == QUICK
    assert operations["stripe POST /v1/payment_intents"] == QUICK
    assert "dynamodb.Scan" not in operations
