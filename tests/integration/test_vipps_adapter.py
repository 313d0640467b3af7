"""Our Vipps client against the simulator: token caching, idempotent replays, 429 and 5xx handling,
webhooks signed, retried and verified by our own verifier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.clock import FixedClock
from chalicelib.errors import ValidationFailedError
from chalicelib.money import Currency, Money
from chalicelib.payments.errors import ProviderRejectedError, ProviderUnavailableError, WebhookSignatureError
from chalicelib.payments.interface import (
    AgreementRequest,
    AgreementSetup,
    AgreementStatus,
    ChargeStatus,
    InvoiceCharge,
    PeriodUnit,
)
from chalicelib.payments.vipps import VippsAdapter, order_id_for, parse_webhook
from chalicelib.payments.vipps_client import VippsClient, idempotency_key
from chalicelib.settings import VippsSettings
from infra.simulators.vipps import VippsSimulator
from tests.support.vipps import (
    CLIENT_ID,
    CLIENT_SECRET,
    MSN,
    SUBSCRIPTION_KEY,
    WEBHOOK_SECRET,
    WebhookReceiver,
    vipps_settings,
)

START = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
NOK = Currency.NOK


@dataclass
class World:
    simulator: VippsSimulator
    settings: VippsSettings
    clock: FixedClock
    client: VippsClient
    adapter: VippsAdapter
    receiver: WebhookReceiver
    sleeps: list[float] = field(default_factory=list)
    webhook_sleeps: list[float] = field(default_factory=list)


@pytest.fixture
def world() -> Iterator[World]:
    with WebhookReceiver(failures=0) as receiver:
        webhook_sleeps: list[float] = []
        simulator = VippsSimulator(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            subscription_key=SUBSCRIPTION_KEY,
            merchant_serial_number=MSN,
            webhook_secret=WEBHOOK_SECRET,
            callback_url=receiver.url,
            start=START,
            webhook_backoff=(1.0, 2.0, 4.0),
            sleep=webhook_sleeps.append,
        )
        base_url = simulator.start()
        settings = vipps_settings(base_url, webhook_url=receiver.url)
        clock = FixedClock(START)
        sleeps: list[float] = []
        client = VippsClient(settings, clock=clock, sleep=sleeps.append)
        try:
            yield World(
                simulator,
                settings,
                clock,
                client,
                VippsAdapter(client, settings, clock),
                receiver,
                sleeps,
                webhook_sleeps,
            )
        finally:
            simulator.stop()


def first_invoice(number: int = 1, amount: int = 29900) -> InvoiceCharge:
    return InvoiceCharge(
        f"inv_01JINTEGRATION{number:012d}", Money(amount, NOK), "Avisa, januar", date(2027, 1, 1)
    )


def active_agreement(world: World) -> AgreementSetup:
    setup = world.adapter.set_up_agreement(
        AgreementRequest(
            agreement_id="pag_01JINTEGRATION000000000001",
            product_name="Avisa Digital",
            price=Money(29900, NOK),
            interval_unit=PeriodUnit.MONTH,
            interval_count=1,
            first_invoice=first_invoice(),
        )
    )
    world.simulator.approve(setup.agreement_ref)
    return setup


def test_the_token_is_fetched_once_and_renewed_shortly_before_it_expires(world: World) -> None:
    setup = active_agreement(world)
    for _ in range(3):
        world.adapter.agreement_status(setup.agreement_ref)
    assert world.simulator.token_requests == 1
    # Valid 3600 s; renewed 300 s (the margin) before that.
    world.clock.instant = START + timedelta(seconds=3299)
    world.adapter.agreement_status(setup.agreement_ref)
    assert world.simulator.token_requests == 1
    world.clock.instant = START + timedelta(seconds=3300)
    world.adapter.agreement_status(setup.agreement_ref)
    assert world.simulator.token_requests == 2


def test_a_token_vipps_refuses_is_renewed_once(world: World) -> None:
    setup = active_agreement(world)
    world.simulator.advance(
        START + timedelta(hours=2)
    )  # Vipps' clock passes the token's expiry; ours does not
    assert world.adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.ACTIVE
    assert world.simulator.token_requests == 2


def test_every_call_carries_vipps_headers_and_posts_carry_keys_from_our_ids(world: World) -> None:
    sent: list[dict[str, str]] = []
    session = world.client._session
    session.hooks["response"].append(lambda r, *a, **k: sent.append(dict(r.request.headers)))
    setup = active_agreement(world)
    world.adapter.charge_invoice(setup.agreement_ref, first_invoice(2))
    assert [h.get("Idempotency-Key") for h in sent] == [
        None,
        "draft-pag_01JINTEGRATION000000000001",
        "charge-inv-01JINTEGRATION000000000002",
    ]
    for headers in sent[1:]:
        assert headers["Authorization"].startswith("Bearer ")
        assert headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
        assert headers["Merchant-Serial-Number"] == MSN
        assert (headers["Vipps-System-Name"], headers["Vipps-System-Plugin-Name"]) == ("abo", "abo-payments")
        assert headers["Vipps-System-Version"] and headers["Vipps-System-Plugin-Version"]
    assert sent[0]["client_id"] == CLIENT_ID
    assert (
        idempotency_key("refund", "x" * 60).startswith("refund-")
        and len(idempotency_key("refund", "x" * 60)) == 40
    )


def test_replaying_a_charge_returns_the_same_charge_and_another_body_is_a_conflict(world: World) -> None:
    setup = active_agreement(world)
    invoice = first_invoice(2)
    first = world.adapter.charge_invoice(setup.agreement_ref, invoice)
    again = world.adapter.charge_invoice(setup.agreement_ref, invoice)
    assert first == again
    assert [c.charge_ref for c in world.adapter.list_charges(setup.agreement_ref)] == [
        order_id_for(first_invoice(1).invoice_id),
        order_id_for(invoice.invoice_id),
    ]
    changed = InvoiceCharge(invoice.invoice_id, Money(100, NOK), invoice.description, invoice.due)
    with pytest.raises(ProviderRejectedError) as conflict:
        world.adapter.charge_invoice(setup.agreement_ref, changed)
    assert (conflict.value.http_status, conflict.value.problem_title) == (409, "Conflict")


def test_429_waits_for_retry_after_and_then_succeeds(world: World) -> None:
    setup = active_agreement(world)
    world.simulator.inject_fault(429, count=2, retry_after="3", path_prefix="/recurring/v3/agreements/")
    assert world.adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.ACTIVE
    assert world.sleeps == [3.0, 3.0]


def test_429_asking_for_too_long_a_wait_is_unavailable_with_the_wait(world: World) -> None:
    setup = active_agreement(world)
    world.simulator.inject_fault(429, count=1, retry_after="120")
    with pytest.raises(ProviderUnavailableError) as unavailable:
        world.adapter.agreement_status(setup.agreement_ref)
    assert unavailable.value.retry_after_seconds == 120.0
    assert unavailable.value.http_status == 429
    assert world.sleeps == []


def test_5xx_is_retried_with_backoff_a_bounded_number_of_times(world: World) -> None:
    setup = active_agreement(world)
    world.simulator.inject_fault(503, count=1)
    assert world.adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.ACTIVE
    assert world.sleeps == [0.5]
    world.sleeps.clear()
    before = len(world.simulator.requests)
    world.simulator.inject_fault(503, count=10)
    with pytest.raises(ProviderUnavailableError) as unavailable:
        world.adapter.agreement_status(setup.agreement_ref)
    assert unavailable.value.http_status == 503
    assert unavailable.value.problem_title == "Service Unavailable"
    assert len(world.simulator.requests) - before == world.settings.max_attempts == 4
    assert world.sleeps == [0.5, 1.0, 2.0]


def test_an_unreachable_vipps_is_unavailable(world: World) -> None:
    settings = vipps_settings("http://127.0.0.1:9", max_attempts=2)
    client = VippsClient(settings, clock=world.clock, sleep=world.sleeps.append)
    with pytest.raises(ProviderUnavailableError, match="did not answer POST /accesstoken/get"):
        client.access_token()
    assert world.sleeps == [0.5]


def test_webhooks_are_signed_retried_in_order_and_pass_our_verifier(world: World) -> None:
    world.receiver.failures = 2
    setup = active_agreement(world)
    world.simulator.wait_for_webhooks()
    attempts = [(d["eventType"], d["attempt"], d["status"]) for d in world.simulator.deliveries]
    assert attempts == [
        ("recurring.agreement-activated.v1", 1, 500),
        ("recurring.agreement-activated.v1", 2, 500),
        ("recurring.agreement-activated.v1", 3, 204),
        ("recurring.charge-captured.v1", 1, 204),
    ]
    assert world.webhook_sleeps == [1.0, 2.0]
    events = [parse_webhook(world.settings, r.body, r.headers) for r in world.receiver.received]
    assert [e.event_type for e in events] == ["recurring.agreement-activated.v1"] * 3 + [
        "recurring.charge-captured.v1"
    ]
    captured = events[-1]
    assert (captured.agreement_ref, captured.charge_ref) == (setup.agreement_ref, setup.first_charge_ref)
    assert captured.payload["amount"] == 29900 and captured.payload["msn"] == MSN
    assert "failureReason" not in captured.payload  # null fields are omitted
    tampered = world.receiver.received[-1]
    body = json.loads(tampered.body)
    body["amount"] = 1
    with pytest.raises(WebhookSignatureError):
        parse_webhook(world.settings, json.dumps(body).encode(), tampered.headers)


def test_charges_settle_or_fail_on_the_due_date_and_user_stops_are_reported(world: World) -> None:
    setup = active_agreement(world)
    paid = world.adapter.charge_invoice(
        setup.agreement_ref,
        InvoiceCharge(
            "inv_01JINTEGRATION000000000002", Money(29900, NOK), "Avisa, februar", date(2027, 2, 1)
        ),
    )
    failing = world.adapter.charge_invoice(
        setup.agreement_ref,
        InvoiceCharge("inv_01JINTEGRATION000000000003", Money(29900, NOK), "Avisa, mars", date(2027, 3, 1)),
    )
    world.simulator.fail_charge(failing.charge_ref, "charge_amount_too_high")
    world.simulator.advance(datetime(2027, 1, 31, 12, tzinfo=UTC))
    assert world.adapter.charge_status(setup.agreement_ref, paid.charge_ref).provider_status == "DUE"
    world.simulator.advance(datetime(2027, 3, 1, 12, tzinfo=UTC))
    assert world.adapter.charge_status(setup.agreement_ref, paid.charge_ref).status == ChargeStatus.PAID
    failed = world.adapter.charge_status(setup.agreement_ref, failing.charge_ref)
    assert (failed.status, failed.failure_reason) == (ChargeStatus.FAILED, "charge_amount_too_high")

    pending = world.adapter.charge_invoice(
        setup.agreement_ref,
        InvoiceCharge("inv_01JINTEGRATION000000000004", Money(29900, NOK), "Avisa, april", date(2027, 4, 1)),
    )
    world.simulator.user_stop(setup.agreement_ref)
    assert world.adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.STOPPED
    assert (
        world.adapter.charge_status(setup.agreement_ref, pending.charge_ref).status == ChargeStatus.CANCELLED
    )
    world.simulator.wait_for_webhooks()
    events = [parse_webhook(world.settings, r.body, r.headers) for r in world.receiver.received]
    stopped = [e for e in events if e.event_type == "recurring.agreement-stopped.v1"]
    assert [e.payload["actor"] for e in stopped] == ["USER"]
    failed_events = [e for e in events if e.event_type == "recurring.charge-failed.v1"]
    assert [e.payload["failureReason"] for e in failed_events] == ["charge_amount_too_high"]


def test_a_failing_initial_charge_expires_the_agreement(world: World) -> None:
    setup = world.adapter.set_up_agreement(
        AgreementRequest(
            agreement_id="pag_01JINTEGRATION000000000009",
            product_name="Avisa Digital",
            price=Money(29900, NOK),
            interval_unit=PeriodUnit.MONTH,
            interval_count=1,
            first_invoice=first_invoice(9),
        )
    )
    world.simulator.fail_charge(str(setup.first_charge_ref), "user_action_required")
    world.simulator.approve(setup.agreement_ref)
    assert world.adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.EXPIRED
    first = world.adapter.take_first_payment(setup.agreement_ref, first_invoice(9))
    assert (first.status, first.failure_reason) == (ChargeStatus.FAILED, "user_action_required")


def test_only_nok_is_charged(world: World) -> None:
    setup = active_agreement(world)
    sek = InvoiceCharge(
        "inv_01JINTEGRATION000000000005", Money(29900, Currency.SEK), "Avisa", date(2027, 2, 1)
    )
    with pytest.raises(ValidationFailedError, match="NOK only"):
        world.adapter.charge_invoice(setup.agreement_ref, sek)
