"""Notifications requested by the flows that cause them, through SQS (``NotificationQueue``).

The event dispatcher's notification consumer enqueues a small :class:`Notice` for each recorded event
that asks for one (:mod:`chalicelib.notifications.events`): the message kind, its deterministic message
key and the ids to read. The consumer
(``functions/notifications.py``) reads what the message needs, renders it in the customer's language and
sends it through :class:`~chalicelib.notifications.sender.NotificationSender`, at most once per key.
Nothing is rendered or sent on the hot path, and a notice enqueued twice is sent once.

Message keys:

=========================  ===============================================================
order confirmation         ``order-confirmation:<order id>``
invoice issued             ``invoice-issued:<invoice id>``
payment received           ``payment-received:<invoice id>``
subscription changed       ``subscription-changed:<subscription id>:<effective>:<plan id>:<quantity>``
subscription paused        ``subscription-paused:<subscription id>:<pause start>``
subscription stopped       ``subscription-stopped:<subscription id>``
mandate deleted            ``mandate-deleted:<kid>:<mandate file id>``
dunning letter             ``dunning:<invoice id>:<step>`` (the step key)
failed charge              ``dunning:<invoice id>:failed-charge``
=========================  ===============================================================
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.notifications.kinds import MessageKind

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH = 10  # SendMessageBatch's limit


@dataclass(frozen=True)
class Notice:
    """One notification to send: its kind, message key and the ids of what it is about."""

    kind: MessageKind
    key: str
    refs: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> str:
        """The SQS message body."""
        return json.dumps({"kind": self.kind.value, "key": self.key, "refs": dict(self.refs)}, sort_keys=True)

    def with_refs(self, **refs: str) -> Notice:
        """The notice with more refs (the key stays)."""
        return Notice(self.kind, self.key, {**self.refs, **refs})

    @classmethod
    def parse(cls, body: str) -> Notice:
        """A notice from an SQS message body."""
        message: Mapping[str, Any] = json.loads(body)
        refs = message.get("refs") or {}
        return cls(
            MessageKind(message["kind"]), str(message["key"]), {str(k): str(v) for k, v in refs.items()}
        )


def order_confirmation(order_id: str) -> Notice:
    """The confirmation of an order."""
    return Notice(MessageKind.ORDER_CONFIRMATION, f"order-confirmation:{order_id}", {"order_id": order_id})


def invoice_issued(invoice_id: str) -> Notice:
    """An issued invoice (the first one of an order, a renewal, a restatement)."""
    return Notice(MessageKind.INVOICE_ISSUED, f"invoice-issued:{invoice_id}", {"invoice_id": invoice_id})


def payment_received(invoice_id: str) -> Notice:
    """An invoice the ledger has marked paid."""
    return Notice(MessageKind.PAYMENT_RECEIVED, f"payment-received:{invoice_id}", {"invoice_id": invoice_id})


def subscription_changed(subscription_id: str, effective: date, plan_id: str, quantity: int) -> Notice:
    """A plan or quantity change (one key per distinct change)."""
    key = f"subscription-changed:{subscription_id}:{effective.isoformat()}:{plan_id}:{quantity}"
    return Notice(
        MessageKind.SUBSCRIPTION_CHANGED,
        key,
        {"subscription_id": subscription_id, "effective": effective.isoformat(), "plan_id": plan_id},
    )


def subscription_paused(subscription_id: str, start: date) -> Notice:
    """A pause from ``start``."""
    return Notice(
        MessageKind.SUBSCRIPTION_PAUSED,
        f"subscription-paused:{subscription_id}:{start.isoformat()}",
        {"subscription_id": subscription_id},
    )


def subscription_stopped(subscription_id: str) -> Notice:
    """A stop (a subscription stops once)."""
    return Notice(
        MessageKind.SUBSCRIPTION_STOPPED,
        f"subscription-stopped:{subscription_id}",
        {"subscription_id": subscription_id},
    )


def mandate_deleted(kid: str, file_id: str, customer_id: str, subscription_ids: Sequence[str]) -> Notice:
    """An AvtaleGiro mandate deleted at the bank by mandate file ``file_id`` (its SHA-256), which put
    ``subscription_ids`` back on invoice with KID. One key per KID and file: a replay of the file sends
    once, a later mandate of the same KID deleted again sends again."""
    return Notice(
        MessageKind.MANDATE_DELETED,
        f"mandate-deleted:{kid}:{file_id}",
        {
            "kid": kid,
            "file_id": file_id,
            "customer_id": customer_id,
            "subscription_ids": ",".join(subscription_ids),
        },
    )


def dunning_letter(invoice_id: str, step: str, kind: MessageKind) -> Notice:
    """A reminder or collection notice (``kind``): the letter dunning recorded with step ``step`` of the
    invoice; its key is the step key, as the letters sent before this notice existed were keyed."""
    return Notice(kind, f"dunning:{invoice_id}:{step}", {"invoice_id": invoice_id})


def failed_charge(invoice_id: str, failed_at: str, method: str) -> Notice:
    """An automatic charge of the invoice failed (at ``failed_at``, by ``method``): told once per invoice,
    however many retries fail after it."""
    return Notice(
        MessageKind.PAYMENT_FAILED,
        f"dunning:{invoice_id}:failed-charge",
        {"invoice_id": invoice_id, "failed_at": failed_at, "method": method},
    )


class NotificationQueue:
    """Enqueues notices: one ``SendMessageBatch`` per ten. Without a queue URL it enqueues nothing (a
    deployment or a test without notifications)."""

    def __init__(self, sqs: SQSClient, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def enqueue(self, notices: Iterable[Notice]) -> int:
        """Send the notices (duplicates within the call dropped); returns how many were sent. An entry
        SQS refuses raises, so that the producer's retry derives it again."""
        unique: dict[str, Notice] = {notice.key: notice for notice in notices}
        if not self._queue_url or not unique:
            return 0
        batch: Sequence[Notice] = list(unique.values())
        for start in range(0, len(batch), SQS_BATCH):
            chunk = batch[start : start + SQS_BATCH]
            response = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "MessageBody": notice.body()} for i, notice in enumerate(chunk)],
            )
            failed = response.get("Failed") or []
            if failed:
                raise RuntimeError(f"SQS refused {len(failed)} notification(s): {failed[0].get('Message')}")
        return len(batch)
