"""Send a notification at most once per message key: e-mail through SES, SMS through SNS.

Before a message goes out, a marker item ``NOTIFICATION#<key>`` / ``SENT`` is created with a conditional
write; a second send of the same key finds it and sends nothing. The marker is claimed before the
provider call (status ``sending``) and completed after it (``sent``, with the provider's message id). If
the provider refuses the message, the claim is removed so that a retry may send it.

A crash between the claim and its completion leaves a claim that no one completes. Such a claim older
than :data:`STALE_CLAIM` is taken over by the next send of the key (a conditional write at its version,
so only one taker) and the message is sent then: a reminder whose fee was charged must not be lost. The
price is that a crash after the provider accepted the message, but before the marker said so, sends it
twice. Both copies carry the same Message-ID, derived from the key.

Opt-outs are per channel; an opted-out or unreachable recipient gets nothing and no marker, and the
result says so. The notification queue's consumer records such an outcome, and a notice it skipped, in
an outcome item ``NOTIFICATION#<key>`` / ``OUTCOME`` (:meth:`NotificationSender.record_outcome`), so that
:meth:`NotificationSender.deliveries` can tell what became of any key: ``sending``, ``sent``,
``opted_out``, ``no_address``, ``skipped``, or ``queued`` while nothing has happened to it yet.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from chalicelib.clock import Clock
from chalicelib.customers.models import Customer
from chalicelib.notifications.outbox import Attachment, Outbox, build_email, sms_text
from chalicelib.notifications.render import MessageKind, RenderedMessage, render, supported_language
from chalicelib.store.documents import DocumentStore, Keys, WriteConflictError, document_item
from chalicelib.values import Document

KIND = "notification"
OUTCOME_KIND = "notification_outcome"
QUEUED = "queued"  # a key nothing has been recorded for yet: its notice is on its way
STALE_CLAIM = timedelta(minutes=15)  # far beyond one provider call and the Lambda's own timeout


class SesClient(Protocol):
    """The part of boto3's SES client the sender uses."""

    def send_raw_email(
        self,
        *,
        Source: str,  # noqa: N803 - boto3's parameter names
        Destinations: list[str],  # noqa: N803
        RawMessage: dict[str, bytes],  # noqa: N803
    ) -> Mapping[str, Any]:
        """Send a MIME message."""
        ...


class SnsClient(Protocol):
    """The part of boto3's SNS client the sender uses."""

    def publish(
        self,
        *,
        PhoneNumber: str,  # noqa: N803 - boto3's parameter names
        Message: str,  # noqa: N803
        MessageAttributes: dict[str, dict[str, str]],  # noqa: N803
    ) -> Mapping[str, Any]:
        """Send an SMS."""
        ...


class Channel(StrEnum):
    """How a message reaches the customer."""

    EMAIL = "email"
    SMS = "sms"


class SendStatus(StrEnum):
    """What a send did."""

    SENT = "sent"
    DUPLICATE = "duplicate"
    OPTED_OUT = "opted_out"
    NO_ADDRESS = "no_address"


@dataclass(frozen=True)
class Recipient:
    """Who gets a message: addresses, language and per-channel opt-outs."""

    customer_id: str
    language: str
    email: str | None = None
    phone: str | None = None
    email_opt_out: bool = False
    sms_opt_out: bool = False

    @classmethod
    def of(cls, customer: Customer, *, email_opt_out: bool = False, sms_opt_out: bool = False) -> Recipient:
        """A customer as a recipient, with opt-outs from wherever they are kept."""
        return cls(
            customer_id=customer.id,
            language=customer.language,
            email=customer.email,
            phone=customer.phone,
            email_opt_out=email_opt_out,
            sms_opt_out=sms_opt_out,
        )

    def address(self, channel: Channel) -> str | None:
        """The e-mail address or phone number for ``channel``."""
        return self.email if channel is Channel.EMAIL else self.phone

    def opted_out(self, channel: Channel) -> bool:
        """True if the customer does not want messages on ``channel``."""
        return self.email_opt_out if channel is Channel.EMAIL else self.sms_opt_out


class SentNotification(Document):
    """The marker of one message key: claimed (``sending``) or delivered to the provider (``sent``)."""

    message_key: str
    kind: MessageKind
    channel: Channel
    customer_id: str
    address: str
    language: str
    status: str
    claimed_at: datetime
    sent_at: datetime | None = None
    provider_message_id: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The outcome of :meth:`NotificationSender.send`."""

    status: SendStatus
    message_key: str
    channel: Channel
    provider_message_id: str | None = None
    outbox_path: Path | None = None


class NotificationOutcome(Document):
    """Why a message key was not sent: the recipient opted out or has no address, or its notice was
    skipped (``reason``)."""

    message_key: str
    status: str
    reason: str | None = None
    recorded_at: datetime


def marker_keys(message_key: str) -> Keys:
    """Where the marker of ``message_key`` lives in the main table."""
    return Keys(f"NOTIFICATION#{message_key}", "SENT")


def outcome_keys(message_key: str) -> Keys:
    """Where the outcome of a message key that was not sent lives."""
    return Keys(f"NOTIFICATION#{message_key}", "OUTCOME")


class NotificationSender:
    """Renders and sends notifications idempotently; keeps a copy in the outbox folder when given one."""

    def __init__(
        self,
        store: DocumentStore,
        ses: SesClient,
        sns: SnsClient,
        clock: Clock,
        *,
        from_address: str,
        outbox: Path | None = None,
        sms_sender_id: str | None = None,
    ) -> None:
        self.store = store
        self.ses = ses
        self.sns = sns
        self.clock = clock
        self.from_address = from_address
        self.outbox = Outbox(outbox) if outbox is not None else None
        self.sms_sender_id = sms_sender_id

    def send(
        self,
        *,
        message_key: str,
        kind: MessageKind,
        channel: Channel,
        recipient: Recipient,
        context: Mapping[str, Any],
        attachments: Sequence[Attachment] = (),
    ) -> SendResult:
        """Send ``kind`` to ``recipient`` on ``channel`` unless a message with ``message_key`` was sent
        (or is being sent) already, or the recipient opted out or has no address for the channel."""
        if recipient.opted_out(channel):
            return SendResult(SendStatus.OPTED_OUT, message_key, channel)
        address = recipient.address(channel)
        if not address:
            return SendResult(SendStatus.NO_ADDRESS, message_key, channel)
        language = supported_language(recipient.language)
        # Render before claiming the key: a template error must not use it up.
        message = render(kind, language, context)
        now = self.clock.now()
        claim = SentNotification(
            message_key=message_key,
            kind=kind,
            channel=channel,
            customer_id=recipient.customer_id,
            address=address,
            language=language,
            status="sending",
            claimed_at=now,
        )
        keys = marker_keys(message_key)
        claim_item = document_item(KIND, keys, claim, status=claim.status)
        version = 1
        try:
            self.store.put_new(claim_item)
        except WriteConflictError:
            taken = self._take_over_stale(keys, claim)
            if isinstance(taken, SendResult):
                return taken
            version = taken
        try:
            if channel is Channel.EMAIL:
                provider_id, path = self._email(message, address, message_key, now, attachments)
            else:
                provider_id, path = self._sms(message.sms, address, message_key, now)
        except Exception:
            self.store.write([], [], deletes=[document_item(KIND, keys, claim)])
            raise
        sent = claim.model_copy(update={"status": "sent", "sent_at": now, "provider_message_id": provider_id})
        self.store.write([], [(document_item(KIND, keys, sent, status=sent.status), version)])
        return SendResult(SendStatus.SENT, message_key, channel, provider_id, path)

    def record_outcome(self, message_key: str, status: str, reason: str | None = None) -> None:
        """Record that ``message_key`` was not sent, and why; the first outcome of a key stays (a send
        that succeeds later still counts: its marker wins in :meth:`deliveries`)."""
        outcome = NotificationOutcome(
            message_key=message_key, status=status, reason=reason, recorded_at=self.clock.now()
        )
        with contextlib.suppress(WriteConflictError):  # recorded by an earlier delivery of the notice
            self.store.put_new(document_item(OUTCOME_KIND, outcome_keys(message_key), outcome))

    def deliveries(self, message_keys: Sequence[str]) -> dict[str, str]:
        """What became of each message key: its marker's status (``sending``, ``sent``), else its
        recorded outcome (``opted_out``, ``no_address``, ``skipped``), else ``queued``."""
        wanted = list(dict.fromkeys(message_keys))
        markers = {key: marker_keys(key) for key in wanted}
        outcomes = {key: outcome_keys(key) for key in wanted}
        found = self.store.batch_get(
            [(k.pk, k.sk) for k in markers.values()] + [(k.pk, k.sk) for k in outcomes.values()]
        )
        statuses: dict[str, str] = {}
        for key in wanted:
            marker = found.get((markers[key].pk, markers[key].sk))
            outcome = found.get((outcomes[key].pk, outcomes[key].sk))
            if marker is not None and marker.doc is not None:
                statuses[key] = marker.document(SentNotification).status
            elif outcome is not None and outcome.doc is not None:
                statuses[key] = outcome.document(NotificationOutcome).status
            else:
                statuses[key] = QUEUED
        return statuses

    def _take_over_stale(self, keys: Keys, claim: SentNotification) -> int | SendResult:
        """The marker's version after taking over a stale ``sending`` claim of the key, or the
        duplicate result when the key was sent, or is being sent, by someone else."""
        stored = self.store.get(keys.pk, keys.sk)
        existing = stored.document(SentNotification) if stored is not None and stored.doc else None
        duplicate = SendResult(
            SendStatus.DUPLICATE,
            claim.message_key,
            claim.channel,
            existing.provider_message_id if existing else None,
        )
        if (
            stored is None
            or existing is None
            or existing.status != "sending"
            or claim.claimed_at - existing.claimed_at < STALE_CLAIM
        ):
            return duplicate
        expected = int(stored.version)
        try:
            self.store.write([], [(document_item(KIND, keys, claim, status=claim.status), expected)])
        except WriteConflictError:
            return duplicate
        return expected + 1

    def _email(
        self,
        message: RenderedMessage,
        address: str,
        message_key: str,
        now: datetime,
        attachments: Sequence[Attachment],
    ) -> tuple[str, Path | None]:
        email = build_email(
            message,
            sender=self.from_address,
            recipient=address,
            message_key=message_key,
            sent_at=now,
            attachments=attachments,
        )
        response = self.ses.send_raw_email(
            Source=self.from_address, Destinations=[address], RawMessage={"Data": email.as_bytes()}
        )
        path = self.outbox.write_email(email, message_key, now) if self.outbox else None
        return str(response["MessageId"]), path

    def _sms(self, text: str, phone: str, message_key: str, now: datetime) -> tuple[str, Path | None]:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self.sms_sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sms_sender_id}
        response = self.sns.publish(PhoneNumber=phone, Message=text, MessageAttributes=attributes)
        path = None
        if self.outbox:
            path = self.outbox.write_sms(
                sms_text(text, recipient=phone, message_key=message_key, sent_at=now), message_key, now
            )
        return str(response["MessageId"]), path
