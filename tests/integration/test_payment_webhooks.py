"""Duplicated and reordered provider webhooks change nothing.

A Vipps invoice and a card invoice are charged by the daily job against the simulators, whose real
webhooks (Vipps' signed ``recurring.*`` events, localstripe's signed Stripe events) are captured by a
local receiver. They are then delivered to ``POST /v1/callbacks/vipps|stripe`` through the Chalice app
and worked by ``functions/payment_events.py`` through the container's queue drainer (the SQS
event-source mapping of the local stack): every webhook twice, every queued message twice, and stale
events (built and signed as the providers do) after the fresh ones. The worker fetches the agreement or
charge before acting, so the final state is the provider's current one: one ledger payment per invoice,
no failed charge, a stopped agreement stays stopped. A bad signature is a 401 that records nothing.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services, set_services
from chalicelib.payments.intake import event_message
from chalicelib.payments.records import ChargeState, EventRecord, SetupState
from chalicelib.payments.stripe_signature import sign_payload
from chalicelib.payments.vipps_signature import sign_webhook
from chalicelib.store import keys
from chalicelib.subscriptions.models import AgreementStatus, PaymentAgreement
from chalicelib.values import PaymentMethod
from infra.simulators.vipps import WebhookTarget, due_instant
from tests.conftest import make_settings
from tests.support.aws import fresh_resources
from tests.support.ledger import dump_table
from tests.support.payment_world import Payer, Simulators, bind, seed_payer, simulators, with_providers
from tests.support.vipps import WEBHOOK_SECRET, Received, WebhookReceiver

Table = dict[tuple[str, str], Any]
# What localstripe posts (it emits no ``processing`` or ``requires_action`` events: those are built).
STRIPE_EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed"]
# Headers a webhook's signature lives in, as the receiver recorded them (any case).
SIGNATURE_HEADERS = ("content-type", "x-ms-date", "x-ms-content-sha256", "authorization", "stripe-signature")


@dataclass
class Hooks:
    """The simulators, posting every webhook to ``receiver``."""

    sims: Simulators
    receiver: WebhookReceiver

    @property
    def vipps_url(self) -> str:
        return self.receiver.url

    @property
    def stripe_url(self) -> str:
        return self.receiver.url.replace("/vipps", "/stripe")


@pytest.fixture(scope="module")
def hooks() -> Iterator[Hooks]:
    with simulators() as sims, WebhookReceiver() as receiver:
        running = Hooks(sims, receiver)
        # The URL registered at Vipps is where it posts and what it signs; ours is that URL (settings).
        sims.vipps.targets.append(WebhookTarget(running.vipps_url, WEBHOOK_SECRET))
        yield running


_numbers = iter(range(1, 10_000))


@dataclass
class World:
    """Fresh AWS resources, the platform bound to them and the simulators, the API's client."""

    services: Services
    api: Client
    hooks: Hooks
    due: date

    def seed(self, method: PaymentMethod) -> Payer:
        return seed_payer(self.services, self.hooks.sims, method, next(_numbers), due=self.due)


@pytest.fixture
def world(moto_endpoint: str, hooks: Hooks) -> Iterator[World]:
    resources = fresh_resources(moto_endpoint)
    settings = with_providers(
        make_settings(resources, payment_events_queue_url=resources.queues["PaymentEventsQueue"]), hooks.sims
    )
    settings = settings.model_copy(
        update={"vipps": settings.vipps.model_copy(update={"webhook_url": hooks.vipps_url})}
    )
    services = bind(settings)
    hooks.sims.stripe.register_webhook(hooks.stripe_url, stripe_secret(services), STRIPE_EVENTS)
    # The worker may tell a customer something: SES sends only from a verified address.
    services.ses.verify_email_identity(EmailAddress=settings.notification_from_address)
    # A due date two weeks after the Vipps simulator's clock (which only moves forward).
    due = (hooks.sims.vipps.now + timedelta(days=14)).date()
    from app import app

    with Client(app) as api:
        yield World(services, api, hooks, due)
    set_services(None)


# ---- capturing, building and delivering webhooks --------------------------------------------------------


def _body(received: Received) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(received.body)
    return payload


def _provider(received: Received) -> str:
    return "vipps" if received.path.endswith("/vipps") else "stripe"


def _about(payer: Payer) -> Callable[[Received], bool]:
    """Whether a captured webhook concerns ``payer`` (the simulators outlive each test's world)."""

    def check(received: Received) -> bool:
        body = _body(received)
        if _provider(received) == "vipps":
            return bool(body.get("agreementId") == payer.agreement_ref)
        return bool(body.get("data", {}).get("object", {}).get("customer") == payer.agreement_ref)

    return check


def captured(hooks: Hooks, payer: Payer, event_type: str, timeout: float = 15.0) -> list[Received]:
    """The webhooks of ``event_type`` about ``payer`` the receiver got, waiting for the first one (Vipps
    delivers at once, localstripe a second after the event)."""
    hooks.sims.vipps.wait_for_webhooks()
    deadline = time.monotonic() + timeout
    while True:
        found = [
            r
            for r in list(hooks.receiver.received)
            if _about(payer)(r) and (_body(r).get("eventType") or _body(r).get("type")) == event_type
        ]
        if found or time.monotonic() > deadline:
            assert found, f"no {event_type} webhook about {payer.agreement_ref}"
            return found
        time.sleep(0.1)


def vipps_event(hooks: Hooks, like: Received, event_type: str, **changes: Any) -> Received:
    """A Vipps webhook as the simulator (and Vipps) builds it, from a captured one: another event type,
    signed for the registered URL with the current date."""
    payload = {**_body(like), "eventType": event_type, **changes}
    body = json.dumps({k: v for k, v in payload.items() if v is not None}).encode()
    date_header = format_datetime(datetime.now(UTC), usegmt=True)
    headers = {
        "Content-Type": "application/json",
        **sign_webhook(WEBHOOK_SECRET, hooks.vipps_url, body, date_header),
    }
    return Received(like.path, headers, body)


def stripe_secret(services: Services) -> str:
    """The signing secret of our Stripe endpoint."""
    return services.settings.stripe.webhook_secret.get_secret_value()


def stripe_event(world: World, like: Received, event_type: str, status: str, **intent: Any) -> Received:
    """A Stripe event as Stripe builds it, from a captured one: a new event id, ``event_type``, a snapshot
    of the PaymentIntent in ``status`` taken a moment earlier, signed now."""
    payload = copy.deepcopy(_body(like))
    created = int(time.time())
    payload |= {"id": f"evt_stale_{event_type.rsplit('.', 1)[-1]}_{payload['id']}", "type": event_type}
    payload["created"] = created - 5
    payload["data"]["object"] |= {"status": status, "amount_received": 0, **intent}
    body = json.dumps(payload, indent=2, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign_payload(stripe_secret(world.services), created, body),
    }
    return Received(like.path, headers, body)


def post(world: World, received: Received) -> Any:
    """Deliver one webhook to our callback route; the route's answer."""
    headers = {k: v for k, v in received.headers.items() if k.lower() in SIGNATURE_HEADERS}
    return world.api.http.post(f"/v1/callbacks/{_provider(received)}", headers=headers, body=received.body)


def deliver(world: World, webhooks: list[Received], *, duplicate: bool = False) -> list[str]:
    """Deliver each webhook (200 expected; ``duplicate``: each already seen), then let the payment events
    worker take what was queued; returns the event ids."""
    ids: list[str] = []
    for received in webhooks:
        response = post(world, received)
        assert response.status_code == 200, response.body
        assert response.json_body["duplicate"] is duplicate, (_body(received), response.json_body)
        ids.append(response.json_body["event_id"])
    world.services.drainer.drain()
    return ids


def requeue_every_event(world: World) -> int:
    """SQS delivers at least once: queue every recorded event's message again, as a redelivery would."""
    events = [
        EventRecord.model_validate(item["doc"])
        for (pk, _), item in dump_table(world.services).items()
        if pk.startswith("PAYEVENT#")
    ]
    for event in events:
        world.services.sqs.send_message(
            QueueUrl=world.services.settings.payment_events_queue_url,
            MessageBody=event_message(
                event.provider,
                event.event_id,
                event.event_type,
                agreement_ref=event.agreement_ref,
                charge_ref=event.charge_ref,
                object_id=event.object_id,
            ),
        )
    world.services.drainer.drain()
    return len(events)


# ---- what the table says --------------------------------------------------------------------------------


def payments_of(table: Table, invoice_id: str) -> list[dict[str, Any]]:
    """The ledger payments that went to ``invoice_id``."""
    return [
        item["doc"]
        for (pk, sk), item in table.items()
        if pk.startswith("PAYMENT#")
        and sk == "PAYMENT"
        and any(a.get("invoice_id") == invoice_id for a in item["doc"].get("allocations", []))
    ]


def charge_doc(table: Table, invoice_id: str) -> dict[str, Any]:
    [doc] = [
        item["doc"] for (pk, sk), item in table.items() if pk == f"PAYCHARGE#{invoice_id}" and sk == "CHARGE"
    ]
    return dict(doc)


def events_in(table: Table) -> dict[str, dict[str, Any]]:
    return {
        pk.removeprefix("PAYEVENT#"): item["doc"]
        for (pk, _), item in table.items()
        if pk.startswith("PAYEVENT#")
    }


def without_events(table: Table) -> Table:
    return {key: item for key, item in table.items() if not key[0].startswith("PAYEVENT#")}


def assert_paid_once(world: World, table: Table, payer: Payer) -> None:
    [payment] = payments_of(table, payer.invoice.id)
    charge = charge_doc(table, payer.invoice.id)
    assert (charge["state"], charge["payment_id"], charge["paid_amount"]) == ("paid", payment["id"], 29900)
    assert payment["amount"] == 29900 and payment["source_reference"] == charge["charge_ref"]
    invoice = world.services.subscriptions.invoice(payer.invoice.id)
    assert (invoice.status, invoice.open_amount) == ("paid", 0)
    account = world.services.ledger.book().account(payer.invoice.customer_id, "ent_seed", "NOK").account
    assert (account.balance, account.credit) == (0, 0)  # neither owed nor overpaid


def agreement_of(world: World, payer: Payer) -> tuple[SetupState, AgreementStatus]:
    setup = world.services.payments.setup(payer.agreement_id)
    assert setup is not None
    agreement = world.services.documents.get_document(
        keys.agreement(payer.agreement_id).pk, "AGREEMENT", PaymentAgreement
    )
    assert agreement is not None
    return setup[0].state, agreement.status


def charge_both(world: World) -> tuple[Payer, Payer]:
    """A Vipps and a card payer charged by the daily job: the card is paid at once, Vipps takes its charge
    on the due date."""
    vipps, card = world.seed(PaymentMethod.VIPPS), world.seed(PaymentMethod.CARD)
    report = world.services.payment_flows.charging.charge_due(world.due)
    assert sorted(report.charged) == sorted([vipps.invoice.id, card.invoice.id]), report
    world.hooks.sims.vipps.advance(due_instant(world.due) + timedelta(hours=1))
    return vipps, card


# ---- the tests ------------------------------------------------------------------------------------------


def test_every_webhook_delivered_twice_and_every_message_queued_twice_changes_nothing(world: World) -> None:
    vipps, card = charge_both(world)
    hooks = world.hooks
    webhooks = [
        *captured(hooks, vipps, "recurring.agreement-activated.v1"),
        *captured(hooks, vipps, "recurring.charge-captured.v1"),
        *captured(hooks, card, "payment_intent.succeeded"),
    ]
    assert len(webhooks) == 3
    assert world.services.subscriptions.invoice(vipps.invoice.id).status == "issued"  # not polled yet

    first_ids = deliver(world, webhooks)
    after_first = dump_table(world.services)
    assert set(events_in(after_first)) == set(first_ids) and len(set(first_ids)) == 3
    assert {e["status"] for e in events_in(after_first).values()} == {"queued"}
    for payer in (vipps, card):
        assert_paid_once(world, after_first, payer)  # the Vipps invoice was paid by its webhook

    # Each provider redelivers (a timeout on their side): the same event, answered as a duplicate.
    again_ids = deliver(world, webhooks, duplicate=True)
    assert again_ids == first_ids
    assert dump_table(world.services) == after_first

    # SQS delivers each queued message a second time: the worker fetches, finds nothing to do.
    assert requeue_every_event(world) == 3
    assert dump_table(world.services) == after_first
    for payer in (vipps, card):
        assert_paid_once(world, dump_table(world.services), payer)


def test_reordered_and_stale_webhooks_follow_the_providers_current_state(world: World) -> None:
    hooks = world.hooks
    vipps, card = charge_both(world)
    stopping = world.seed(PaymentMethod.VIPPS)
    hooks.sims.vipps.user_stop(stopping.agreement_ref)

    # The Vipps charge: a stale event claiming a reservation arrives after the capture, and one claiming
    # a failure (the charge failed once and Vipps' retry took it) after both.
    [charged] = captured(hooks, vipps, "recurring.charge-captured.v1")
    reserved = vipps_event(hooks, charged, "recurring.charge-reserved.v1")
    failed = vipps_event(hooks, charged, "recurring.charge-failed.v1", failureReason="insufficient_funds")
    # The stopped agreement: "stopped" overtakes "activated".
    [activated] = captured(hooks, stopping, "recurring.agreement-activated.v1")
    [stopped] = captured(hooks, stopping, "recurring.agreement-stopped.v1")
    # The card: stale snapshots of the PaymentIntent after "succeeded".
    [succeeded] = captured(hooks, card, "payment_intent.succeeded")
    processing = stripe_event(world, succeeded, "payment_intent.processing", "processing")
    action = stripe_event(world, succeeded, "payment_intent.requires_action", "requires_action")
    declined = stripe_event(
        world,
        succeeded,
        "payment_intent.payment_failed",
        "requires_payment_method",
        last_payment_error={
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "type": "card_error",
        },
    )

    deliver(world, [charged, stopped, succeeded])
    settled = dump_table(world.services)
    for payer in (vipps, card):
        assert_paid_once(world, settled, payer)
    assert agreement_of(world, stopping) == (SetupState.STOPPED, AgreementStatus.STOPPED)

    stale = deliver(world, [reserved, failed, activated, processing, action, declined])
    after = dump_table(world.services)
    # The only change: the stale events are recorded (and were queued and worked).
    assert set(events_in(after)) - set(events_in(settled)) == set(stale)
    assert {events_in(after)[e]["status"] for e in stale} == {"queued"}
    assert without_events(after) == without_events(settled)
    for payer in (vipps, card):
        assert_paid_once(world, after, payer)
        assert charge_doc(after, payer.invoice.id)["failure_reason"] is None
    assert agreement_of(world, stopping) == (SetupState.STOPPED, AgreementStatus.STOPPED)

    # The stopped agreement is not charged; its invoice is left for another method.
    report = world.services.payment_flows.charging.charge_due(world.due)
    assert report.no_agreement == [stopping.invoice.id] and report.charged == []
    assert not any(c.external_id == stopping.invoice.id for c in hooks.sims.vipps.charges.values())


def test_a_stale_event_ahead_of_the_provider_changes_nothing_until_the_provider_moves(world: World) -> None:
    hooks = world.hooks
    payer = world.seed(PaymentMethod.VIPPS)
    assert world.services.payment_flows.charging.charge_due(world.due).charged == [payer.invoice.id]
    [activated] = captured(hooks, payer, "recurring.agreement-activated.v1")
    charge_ref = charge_doc(dump_table(world.services), payer.invoice.id)["charge_ref"]
    # A "captured" event while Vipps still has the charge pending (built as Vipps would send it later).
    early = vipps_event(hooks, activated, "recurring.charge-captured.v1", chargeId=charge_ref, amount=29900)
    before = dump_table(world.services)
    deliver(world, [early])
    assert without_events(dump_table(world.services)) == without_events(before)
    assert charge_doc(dump_table(world.services), payer.invoice.id)["state"] == ChargeState.OPEN

    hooks.sims.vipps.advance(due_instant(world.due) + timedelta(hours=1))
    [charged] = captured(hooks, payer, "recurring.charge-captured.v1")
    deliver(world, [charged])
    assert_paid_once(world, dump_table(world.services), payer)


@pytest.mark.parametrize("provider", ["vipps", "stripe"])
def test_a_bad_signature_is_401_and_records_and_queues_nothing(world: World, provider: str) -> None:
    hooks = world.hooks
    payer = world.seed(PaymentMethod.VIPPS if provider == "vipps" else PaymentMethod.CARD)
    if provider == "vipps":
        [real] = captured(hooks, payer, "recurring.agreement-activated.v1")
        tampered = Received(real.path, real.headers, real.body.replace(b"activated", b"stopped"))
        wrong_secret = Received(
            real.path,
            {
                **real.headers,
                **sign_webhook("another secret", hooks.vipps_url, real.body, real.headers["x-ms-date"]),
            },
            real.body,
        )
    else:
        world.services.payment_flows.charging.charge_due(world.due)
        [real] = captured(hooks, payer, "payment_intent.succeeded")
        tampered = Received(real.path, real.headers, real.body.replace(b"succeeded", b"canceled"))
        timestamp = int(time.time())
        wrong_secret = Received(
            real.path,
            {**real.headers, "Stripe-Signature": sign_payload("whsec_other", timestamp, real.body)},
            real.body,
        )
    unsigned = Received(real.path, {"Content-Type": "application/json"}, real.body)
    before = dump_table(world.services)
    for received in (tampered, wrong_secret, unsigned):
        response = post(world, received)
        assert response.status_code == 401, response.body
        assert response.headers["Content-Type"].startswith("application/problem+json")
    assert dump_table(world.services) == before
    queue = world.services.settings.payment_events_queue_url
    attributes = world.services.sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    # The genuine delivery still goes through.
    assert deliver(world, [real])
