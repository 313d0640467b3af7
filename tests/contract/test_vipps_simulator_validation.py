"""The Vipps simulator validates what it serves: with ``validate_spec`` on, every API request it gets and
every answer it gives is checked against the published specs, the same checker as the client-side hook."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from chalicelib.clock import FixedClock
from chalicelib.money import Currency, Money
from chalicelib.payments.errors import ProviderRejectedError
from chalicelib.payments.interface import AgreementRequest, ChargeStatus, InvoiceCharge, PeriodUnit
from chalicelib.payments.vipps import VippsAdapter
from chalicelib.payments.vipps_client import VippsClient
from infra.simulators.vipps import VALIDATE_ENV, VippsSimulator
from tests.support.vipps import CLIENT_ID, CLIENT_SECRET, MSN, SUBSCRIPTION_KEY, vipps_settings

pytestmark = pytest.mark.contract

START = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
NOK = Currency.NOK


def simulator(**options: object) -> VippsSimulator:
    return VippsSimulator(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        subscription_key=SUBSCRIPTION_KEY,
        merchant_serial_number=MSN,
        start=START,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def validating() -> Iterator[tuple[VippsSimulator, VippsAdapter, VippsClient]]:
    sim = simulator(validate_spec=True)
    base_url = sim.start()
    settings = vipps_settings(base_url)
    clock = FixedClock(START)
    client = VippsClient(settings, clock=clock, sleep=lambda _: None)
    try:
        yield sim, VippsAdapter(client, settings, clock), client
    finally:
        sim.stop()


def test_every_exchange_the_simulator_serves_is_validated(
    validating: tuple[VippsSimulator, VippsAdapter, VippsClient],
) -> None:
    sim, adapter, _ = validating
    first = InvoiceCharge("inv_01JSIMVALID0000000000001", Money(19900, NOK), "Faktura 1", date(2027, 1, 1))
    setup = adapter.set_up_agreement(
        AgreementRequest("pag_sim_1", "Avisa", Money(19900, NOK), PeriodUnit.MONTH, 1, first)
    )
    sim.approve(setup.agreement_ref)
    second = InvoiceCharge("inv_01JSIMVALID0000000000002", Money(19900, NOK), "Faktura 2", date(2027, 2, 1))
    charge = adapter.charge_invoice(setup.agreement_ref, second)
    sim.advance(START + timedelta(days=31))
    assert adapter.charge_status(setup.agreement_ref, charge.charge_ref).status == ChargeStatus.PAID
    refund = adapter.refund(setup.agreement_ref, charge.charge_ref, Money(5000, NOK), "Kreditnota", "crn_1")
    assert refund.status == ChargeStatus.PARTIALLY_REFUNDED
    with pytest.raises(ProviderRejectedError):
        adapter.agreement_status("agr_missing")
    adapter.cancel_agreement(setup.agreement_ref)

    checker = sim.spec_checker
    assert checker is not None
    assert checker.failures == []
    api_requests = [r for r in sim.requests if not r[1].startswith("/simulator/")]
    assert checker.validated == len(api_requests) >= 9
    assert {x.status for x in checker.exchanges} >= {200, 201, 204, 404}
    report = requests.get(f"{sim.public_url}/simulator/validation", timeout=5).json()
    assert report["enabled"] is True
    assert report["validated"] == checker.validated
    assert report["failures"] == []


def test_a_request_that_breaks_the_spec_is_reported(
    validating: tuple[VippsSimulator, VippsAdapter, VippsClient],
) -> None:
    sim, _, client = validating
    # The simulator tolerates a charge without retryDays; the spec requires it.
    with pytest.raises(ProviderRejectedError):
        client.create_charge("agr_missing", {"amount": 100, "orderId": "x"}, "broken-1")
    checker = sim.spec_checker
    assert checker is not None
    [failure] = [f for f in checker.failures if "request" in f]
    assert failure.startswith("POST /recurring/v3/agreements/agr_missing/charges 404: request:")


def test_validation_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VALIDATE_ENV, raising=False)
    assert simulator().spec_checker is None
    monkeypatch.setenv(VALIDATE_ENV, "1")
    assert simulator().spec_checker is not None
