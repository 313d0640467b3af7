"""The Vipps simulator driven through our adapter, every request and response checked against the
published specs (../shared/specs/vipps/*.yaml) with openapi-core."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
import yaml
from jsonschema_path import SchemaPath
from openapi_spec_validator import OpenAPIV30SpecValidator

from chalicelib.clock import FixedClock
from chalicelib.money import Currency, Money
from chalicelib.payments.errors import ProviderRejectedError
from chalicelib.payments.interface import (
    AgreementRequest,
    AgreementStatus,
    ChargeStatus,
    InvoiceCharge,
    PeriodUnit,
)
from chalicelib.payments.vipps import VippsAdapter
from chalicelib.payments.vipps_client import VippsClient, idempotency_key
from infra.simulators.vipps import VippsSimulator
from tests.support.vipps import (
    CLIENT_ID,
    CLIENT_SECRET,
    MSN,
    SPEC_DIR,
    SUBSCRIPTION_KEY,
    WEBHOOK_SECRET,
    SpecChecker,
    vipps_settings,
)

pytestmark = pytest.mark.contract

START = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
NOK = Currency.NOK
World = tuple[VippsSimulator, VippsAdapter, VippsClient, SpecChecker]


@pytest.fixture(scope="module")
def checker() -> SpecChecker:
    return SpecChecker()


@pytest.fixture
def world(checker: SpecChecker) -> Iterator[World]:
    checker.exchanges.clear()
    checker.unchecked.clear()
    simulator = VippsSimulator(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        subscription_key=SUBSCRIPTION_KEY,
        merchant_serial_number=MSN,
        webhook_secret=WEBHOOK_SECRET,
        start=START,
    )
    base_url = simulator.start()
    session = requests.Session()
    session.hooks["response"].append(checker.hook)
    settings = vipps_settings(base_url)
    clock = FixedClock(START)
    client = VippsClient(settings, session=session, clock=clock, sleep=lambda _: None)
    try:
        yield simulator, VippsAdapter(client, settings, clock), client, checker
    finally:
        simulator.stop()


def invoice(number: int, amount: int, due: date) -> InvoiceCharge:
    return InvoiceCharge(f"inv_01JCONTRACT{number:015d}", Money(amount, NOK), f"Invoice {number}", due)


def test_the_whole_agreement_and_charge_lifecycle_keeps_to_the_specs(world: World) -> None:
    simulator, adapter, client, checker = world
    first = invoice(1, 19900, date(2027, 1, 1))
    setup = adapter.set_up_agreement(
        AgreementRequest(
            agreement_id="pag_01JCONTRACT000000000000001",
            product_name="Avisa Digital",
            price=Money(19900, NOK),
            interval_unit=PeriodUnit.MONTH,
            interval_count=1,
            first_invoice=first,
            phone_number="4791234567",
            product_description="Alle artikler, hver dag",
        )
    )
    assert setup.status == AgreementStatus.PENDING
    assert setup.first_charge_ref == "inv-01JCONTRACT000000000000001"
    assert setup.confirmation_url == f"{simulator.public_url}/simulator/agreements/{setup.agreement_ref}"
    assert adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.PENDING

    page = requests.get(setup.confirmation_url, timeout=5)
    assert "Avisa Digital" in page.text and "kr 199,00" in page.text and "Approve" in page.text
    approved = requests.post(
        f"{setup.confirmation_url}/approve", data={"action": "approve"}, allow_redirects=False, timeout=5
    )
    assert approved.status_code == 303
    assert approved.headers["Location"] == "https://abo.example/vipps/return"

    assert adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.ACTIVE
    paid = adapter.take_first_payment(setup.agreement_ref, first)
    assert (paid.status, paid.provider_status, paid.captured) == (
        ChargeStatus.PAID,
        "CHARGED",
        Money(19900, NOK),
    )

    second = invoice(2, 19900, date(2027, 2, 1))
    created = adapter.charge_invoice(setup.agreement_ref, second)
    assert created.charge_ref == "inv-01JCONTRACT000000000000002"
    assert adapter.charge_status(setup.agreement_ref, created.charge_ref).provider_status == "PENDING"
    third = adapter.charge_invoice(setup.agreement_ref, invoice(3, 9900, date(2027, 1, 1)))
    assert simulator.charges[third.charge_ref].due == date(2027, 1, 2)  # at least one day ahead

    simulator.fail_charge(third.charge_ref, "user_action_required")
    assert simulator.advance(START + timedelta(days=31)) == [created.charge_ref, third.charge_ref]
    failed = adapter.charge_status(setup.agreement_ref, third.charge_ref)
    assert (failed.status, failed.failure_reason) == (ChargeStatus.FAILED, "user_action_required")

    partly = adapter.refund(setup.agreement_ref, created.charge_ref, Money(5000, NOK), "Credit note", "crn_1")
    assert partly.status == ChargeStatus.PARTIALLY_REFUNDED
    fully = adapter.refund(setup.agreement_ref, created.charge_ref, Money(14900, NOK), "Credit note", "crn_2")
    assert fully.status == ChargeStatus.REFUNDED
    charge = adapter.charge_status(setup.agreement_ref, created.charge_ref)
    assert (charge.captured, charge.refunded) == (Money(19900, NOK), Money(19900, NOK))

    fourth = adapter.charge_invoice(setup.agreement_ref, invoice(4, 19900, date(2027, 3, 1)))
    assert adapter.cancel_charge(setup.agreement_ref, fourth.charge_ref).status == ChargeStatus.CANCELLED
    fifth = adapter.charge_invoice(setup.agreement_ref, invoice(5, 19900, date(2027, 3, 1)))
    listed = {c.charge_ref: c.provider_status for c in adapter.list_charges(setup.agreement_ref)}
    assert listed == {
        setup.first_charge_ref: "CHARGED",
        created.charge_ref: "REFUNDED",
        third.charge_ref: "FAILED",
        fourth.charge_ref: "CANCELLED",
        fifth.charge_ref: "PENDING",
    }

    with pytest.raises(ProviderRejectedError) as too_much:
        adapter.refund(setup.agreement_ref, created.charge_ref, Money(100, NOK), "Again", "crn_3")
    assert too_much.value.http_status == 400
    assert too_much.value.problem_title == "Bad Request"
    assert "is REFUNDED and cannot be refunded" in str(too_much.value.problem_detail)

    stopped = adapter.cancel_agreement(setup.agreement_ref)
    assert stopped.status == AgreementStatus.STOPPED
    assert adapter.charge_status(setup.agreement_ref, fifth.charge_ref).status == ChargeStatus.CANCELLED
    with pytest.raises(ProviderRejectedError) as inactive:
        adapter.charge_invoice(setup.agreement_ref, invoice(6, 19900, date(2027, 3, 1)))
    assert "is STOPPED, not ACTIVE" in str(inactive.value.problem_detail)

    registered = client.register_webhook(
        "https://abo.example/v1/callbacks/vipps",
        ["recurring.charge-captured.v1"],
        idempotency_key("hook", "1"),
    )
    assert set(registered) == {"id", "secret"}

    assert checker.failures == []
    validated = {(x.spec, x.method) for x in checker.exchanges}
    assert validated >= {
        ("accesstoken.openapi.yaml", "POST"),
        ("recurring.openapi.yaml", "POST"),
        ("recurring.openapi.yaml", "GET"),
        ("recurring.openapi.yaml", "PATCH"),
        ("recurring.openapi.yaml", "DELETE"),
        ("webhooks.openapi.yaml", "POST"),
    }
    assert {x.status for x in checker.exchanges} >= {200, 201, 204, 400}
    # Every request the client sent was checked (the confirmation page went through another session).
    assert checker.unchecked == []
    api_requests = [r for r in simulator.requests if not r[1].startswith("/simulator/")]
    assert len(checker.exchanges) == len(api_requests)
    assert checker.tolerated == {
        "transactionId",
        "chargeId maxLength 15",
        "pricing discriminator",
        "countryCode NO",
    }


def test_error_answers_keep_to_the_error_schemas(world: World) -> None:
    _, adapter, client, checker = world
    with pytest.raises(ProviderRejectedError) as missing:
        adapter.agreement_status("agr_missing")
    assert (missing.value.http_status, missing.value.problem_title) == (404, "Not Found")
    with pytest.raises(ProviderRejectedError) as bad:
        client.draft_agreement(
            {
                "pricing": {"type": "VARIABLE", "currency": "NOK", "suggestedMaxAmount": 30000},
                "interval": {"unit": "MONTH", "count": 1},
                "merchantRedirectUrl": "https://abo.example/return",
                "merchantAgreementUrl": "https://abo.example/my",
                "productName": "Avisa Digital",
            },
            "draft-variable",
        )
    assert bad.value.http_status == 400
    assert [e.field for e in bad.value.errors] == ["pricing.type"]
    with pytest.raises(ProviderRejectedError):
        client.register_webhook("https://abo.example/cb", [], "hook-empty")
    assert [x.status for x in checker.exchanges] == [200, 404, 400, 400]
    assert checker.failures == []


def test_the_published_recurring_spec_has_exactly_the_defects_the_checker_tolerates() -> None:
    recurring = SchemaPath.from_file_path(str(SPEC_DIR / "recurring.openapi.yaml"))
    broken = sorted(str(list(e.absolute_path)) for e in OpenAPIV30SpecValidator(recurring).iter_errors())
    assert broken == [
        "['components', 'schemas', 'ChargeResponseV2']",
        "['components', 'schemas', 'ChargeResponseV3']",
    ]
    raw = yaml.safe_load((SPEC_DIR / "recurring.openapi.yaml").read_text(encoding="utf-8"))
    schemas = raw["components"]["schemas"]
    assert schemas["ChargeResponseV3"]["properties"]["transactionId"]["pattern"] == r"^\d{10+}$"
    assert schemas["ChargeReference"]["properties"]["chargeId"]["maxLength"] == 15
    assert schemas["CreateChargeV3"]["properties"]["orderId"]["maxLength"] == 50
    assert schemas["AgreementResponseV3"]["properties"]["countryCode"]["enum"] == [False]
    assert "mapping" not in schemas["pricingResponse"]["discriminator"]
    for name in ("accesstoken", "webhooks"):
        spec = SchemaPath.from_file_path(str(SPEC_DIR / f"{name}.openapi.yaml"))
        assert list(OpenAPIV30SpecValidator(spec).iter_errors()) == []
