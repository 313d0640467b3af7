"""Webhook intake: verify a provider's signature, record the event once by its id, queue it, answer fast.

Nothing is acted on here: the worker (``functions/payment_events.py``) fetches the agreement or charge
from the provider first. A bad signature raises :class:`~chalicelib.payments.errors.WebhookSignatureError`
before anything is recorded. Vipps events carry no id of their own: the SHA-256 of the signed body is
one (a redelivery sends the same bytes). An event recorded but not queued (a crash between the two) is
queued by its redelivery, which Vipps and Stripe make until they get a 2xx.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.clock import Clock, wall_time
from chalicelib.payments.records import EventRecord, event_keys
from chalicelib.settings import Settings
from chalicelib.store.documents import DocumentStore, WriteConflictError, document_item

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class Received:
    """What a callback did with one delivery."""

    event_id: str
    duplicate: bool


class WebhookIntake:
    """Verifies, records and queues provider webhooks."""

    def __init__(self, store: DocumentStore, sqs: SQSClient, settings: Settings, clock: Clock) -> None:
        self._store = store
        self._sqs = sqs
        self._settings = settings
        self._clock = clock

    def vipps(self, body: bytes, headers: Mapping[str, str]) -> Received:
        """A Vipps Recurring webhook."""
        from chalicelib.payments.vipps import parse_webhook

        event = parse_webhook(self._settings.vipps, body, headers)
        event_id = f"vipps-{event.event_type}-{hashlib.sha256(body).hexdigest()[:40]}"
        record = EventRecord(
            event_id=event_id,
            provider="vipps",
            event_type=event.event_type,
            agreement_ref=event.agreement_ref,
            charge_ref=event.charge_ref,
            received_at=self._clock.now(),
        )
        return self._record_and_queue(record)

    def stripe(self, body: bytes, headers: Mapping[str, str]) -> Received:
        """A Stripe event (signature timestamps are checked against wall time, which Stripe signs with)."""
        from chalicelib.payments.stripe_api import parse_webhook

        event = parse_webhook(self._settings.stripe, body, dict(headers), wall_time())
        record = EventRecord(
            event_id=f"stripe-{event.event_id}",
            provider="stripe",
            event_type=event.event_type,
            object_id=event.object_id,
            received_at=self._clock.now(),
        )
        return self._record_and_queue(record)

    def _record_and_queue(self, record: EventRecord) -> Received:
        key = event_keys(record.event_id)
        try:
            self._store.put_new(document_item("payment_event", key, record, status=record.status))
        except WriteConflictError:
            stored = self._store.get_document(key.pk, key.sk, EventRecord)
            if stored is not None and stored.status == "queued":
                return Received(record.event_id, duplicate=True)
        self._sqs.send_message(
            QueueUrl=self._settings.payment_events_queue_url,
            MessageBody=event_message(
                record.provider,
                record.event_id,
                record.event_type,
                agreement_ref=record.agreement_ref,
                charge_ref=record.charge_ref,
                object_id=record.object_id,
            ),
        )
        queued = record.model_copy(update={"status": "queued"})
        # A concurrent delivery may have queued it too; the worker is idempotent.
        with contextlib.suppress(WriteConflictError):
            self._store.write([], [(document_item("payment_event", key, queued, status="queued"), 1)])
        return Received(record.event_id, duplicate=False)


def event_message(
    provider: str,
    event_id: str,
    event_type: str,
    *,
    agreement_ref: str | None = None,
    charge_ref: str | None = None,
    object_id: str | None = None,
) -> str:
    """The queued message of one webhook event."""
    return json.dumps(
        {
            "provider": provider,
            "event_id": event_id,
            "event_type": event_type,
            "agreement_ref": agreement_ref,
            "charge_ref": charge_ref,
            "object_id": object_id,
        },
        sort_keys=True,
    )
