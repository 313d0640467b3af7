"""The official Nets samples (../shared/specs/nets, python-netsgiro's test data) through our adapter."""

from __future__ import annotations

from datetime import date

import netsgiro
import pytest

from chalicelib.formats.ocr import parse_ocr
from chalicelib.formats.ocr_values import KidStatus, OcrRejectedError
from tests.support.ocr import SAMPLE, SAMPLE_TOTAL, SAMPLE_TRANSACTIONS, sample_bytes

pytestmark = pytest.mark.contract


def test_the_ocr_sample_has_20_transactions_adding_up_to_its_own_trailer() -> None:
    parsed = parse_ocr(sample_bytes())
    assert len(parsed.transactions) == SAMPLE_TRANSACTIONS
    assert parsed.total_amount == SAMPLE_TOTAL == sum(t.amount for t in parsed.transactions)
    assert parsed.record_count == len(sample_bytes().splitlines())
    assert parsed.nets_date == date(1992, 1, 20)
    assert {t.transaction_type for t in parsed.transactions} == {10, 11, 12, 13, 21}
    assert all(t.kid_status == KidStatus.VALID for t in parsed.transactions)
    assert parsed.transactions[0].text == "Foo bar baz"
    assert len({t.identity for t in parsed.transactions}) == SAMPLE_TRANSACTIONS


def test_the_adapter_agrees_with_netsgiro_on_every_transaction() -> None:
    ours = parse_ocr(sample_bytes()).transactions
    theirs = [
        t
        for t in netsgiro.parse(sample_bytes().decode("latin-1")).assignments[0].transactions
        if isinstance(t, netsgiro.Transaction)
    ]
    assert [(t.amount, t.kid, t.transaction_number) for t in ours] == [
        (x.amount_in_cents, x.kid, x.number) for x in theirs
    ]


@pytest.mark.parametrize("name", ["avtalegiro_agreements.txt", "avtalegiro_payment_request.txt"])
def test_avtalegiro_samples_are_not_ocr_giro_files(name: str) -> None:
    with pytest.raises(OcrRejectedError) as rejected:
        parse_ocr((SAMPLE.parent / name).read_bytes())
    assert "service_code" in {r.code for r in rejected.value.reasons}
