"""Helpers for dunning's tests: a client that serves the dunning routes, the standard Norwegian plan, orders
whose first invoice is put in the overdue index, and running the dunning run day by day."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from email.policy import default
from functools import cache
from typing import Any

import boto3
from chalice.app import Chalice
from chalice.test import Client
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.api import dunning as dunning_api
from chalicelib.billing.models import Invoice
from chalicelib.container import Services
from chalicelib.dunning.index import DUNNING_SHARDS, DunningCase, dunning_shard, overdue_index_writes
from chalicelib.dunning.run import DunningReport
from chalicelib.dunning.service import Dunning
from chalicelib.events import Event
from chalicelib.notifications.dispatch import Dispatched
from chalicelib.notifications.kinds import MessageKind
from chalicelib.notifications.queue import Notice
from chalicelib.store import keys
from tests.support.aws import REGION
from tests.support.catalog import Http, person
from tests.support.events import dispatch_events

NO_PLAN: dict[str, Any] = {
    "name": "Standard (NO)",
    "country": "NO",
    "currency": "NOK",
    "steps": [
        {"key": "reminder-1", "kind": "reminder", "days": 14, "fee": {"amount": 3500}, "deadline_days": 14},
        {
            "key": "notice",
            "kind": "collection_notice",
            "days": 28,
            "fee": {"amount": 3500},
            "deadline_days": 14,
        },
        {"key": "hand-off", "kind": "hand_off", "days": 42},
    ],
    "default": True,
}


@cache
def _dunning_app() -> Chalice:
    """app.py when it serves the dunning routes, else one app (per process: a blueprint is registered
    once) with only them; registering app.py's blueprints twice would break app.py."""
    from app import app
    from chalicelib.api.blueprints import ROUTERS

    if any(router is dunning_api.router for router in ROUTERS):
        return app
    served = Chalice(app_name="abo-dunning-test")
    served.experimental_feature_flags.update({"BLUEPRINTS"})
    served.register_blueprint(dunning_api.router.blueprint)
    return served


def dunning_client() -> Iterator[Client]:
    """A client for the dunning routes."""
    with Client(_dunning_app()) as client:
        yield client


def allow_mail(services: Services) -> None:
    """SES (moto) sends only from a verified address."""
    boto3.client("ses", region_name=REGION).verify_email_identity(
        EmailAddress=services.settings.notification_from_address
    )


def sent_mail() -> list[tuple[str, EmailMessage]]:
    """(message key, e-mail) of everything moto's SES sent, oldest first."""
    out = []
    for message in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
        parsed = email.message_from_string(message.raw_data, policy=default)
        assert isinstance(parsed, EmailMessage)
        out.append((str(parsed["X-Abo-Message-Key"]).strip(), parsed))
    return out


DUNNING_MESSAGES = (MessageKind.REMINDER, MessageKind.COLLECTION_NOTICE, MessageKind.PAYMENT_FAILED)


def take_notices(services: Services, events: Sequence[Event] | None = None) -> list[Notice]:
    """Dispatch the recorded events (as the events stream would; ``events`` instead, when given), then take
    every notice off the notification queue, unsent."""
    if events is None:
        dispatch_events(services)
    for event in events or ():
        services.event_dispatcher.dispatch(event)
    notices: list[Notice] = []
    url = services.settings.notification_queue_url
    while True:
        received = services.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not received:
            return notices
        notices += [Notice.parse(message["Body"]) for message in received]
        services.sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )


def send_dunning_messages(services: Services, events: Sequence[Event] | None = None) -> list[Dispatched]:
    """Send the dunning messages (letters, failed charges) the recorded events (or ``events``) asked for,
    as the notification queue's consumer does; the other notices (order confirmations, issued invoices)
    are taken off the queue unsent, so that a test sees dunning's mail only."""
    notices = [notice for notice in take_notices(services, events) if notice.kind in DUNNING_MESSAGES]
    return [services.notification_dispatcher.dispatch(notice) for notice in notices]


def plain_text(message: EmailMessage) -> str:
    """The plain-text body of an e-mail."""
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


@dataclass
class World:
    """A seller with a default plan, and what the tests need to drive dunning."""

    services: Services
    http: Http
    dunning: Dunning
    seller_id: str
    offer_id: str
    shards: set[int] = field(default_factory=set)

    def order(self, email: str, method: str = "invoice", **customer: Any) -> Invoice:
        """An order whose first invoice is issued, put in the overdue index (billing's wiring, until it is
        in the issuing transactions)."""
        body = {"offer_id": self.offer_id, "payment_method": method, "customer": person(email, **customer)}
        status, order = self.http.post("/v1/orders", body)
        assert status == 201, order
        invoice = self.invoice(order["invoice_id"])
        self.shards.add(dunning_shard(invoice.id))
        writes = overdue_index_writes(invoice)
        if self.services.documents.get(f"DUNNING#{invoice.id}", "CASE") is None:
            self.services.documents.write(writes, [])
        return invoice

    def invoice(self, invoice_id: str) -> Invoice:
        found = self.services.documents.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
        assert found is not None
        return found

    def case(self, invoice_id: str) -> DunningCase:
        found = self.services.documents.get_document(f"DUNNING#{invoice_id}", "CASE", DunningCase)
        assert found is not None
        return found

    def run(self, day: date, every_shard: bool = False) -> list[DunningReport]:
        """The dunning run of one business date: the shards the test's invoices are in (or every shard, as
        the queue would deliver them; the others are empty and only cost time)."""
        now = self.services.clock.now()
        shards = range(DUNNING_SHARDS) if every_shard else sorted(self.shards)
        return [self.dunning.run.work(day, shard, day, now) for shard in shards]

    def run_days(self, first: date, last: date) -> list[DunningReport]:
        """The run of every day from ``first`` to ``last``."""
        reports: list[DunningReport] = []
        day = first
        while day <= last:
            reports += self.run(day)
            day += timedelta(days=1)
        return reports

    def handoff(self, day: date, invoice_id: str) -> dict[str, Any]:
        """The hand-off file of ``day`` that holds ``invoice_id``."""
        key = f"dunning/handoff/{day.isoformat()}-{dunning_shard(invoice_id):02d}.json"
        body = self.services.s3.get_object(Bucket=self.services.settings.documents_bucket, Key=key)["Body"]
        loaded: dict[str, Any] = json.loads(body.read())
        return loaded


def world(services: Services, http: Http, dunning_http: Http, offer_id: str, seller_id: str) -> World:
    """A world with the standard plan as the seller's default."""
    allow_mail(services)
    status, plan = dunning_http.post("/v1/dunning-plans", {**NO_PLAN, "legal_entity_id": seller_id})
    assert status == 201, plan
    return World(services, http, services.dunning, seller_id, offer_id)
