"""E-mail as MIME bytes (stdlib ``email``), and the local outbox: every message sent is also written to a
folder (``var/outbox/`` locally) as ``.eml`` or ``.txt``, so that a person can open what went out."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from chalicelib.notifications.render import RenderedMessage


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an e-mail, e.g. the invoice PDF."""

    filename: str
    content: bytes
    content_type: str = "application/pdf"


def build_email(
    message: RenderedMessage,
    *,
    sender: str,
    recipient: str,
    message_key: str,
    sent_at: datetime,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """A multipart e-mail: plain text and HTML alternatives, plus attachments. Its Message-ID is derived
    from the message key, so a resend of the same key is recognisable as the same message."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = format_datetime(sent_at)
    domain = sender.rpartition("@")[2] or "abo.local"
    email["Message-ID"] = f"<{_digest(message_key)}@{domain}>"
    email["X-Abo-Message-Key"] = message_key
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return email


def sms_text(text: str, *, recipient: str, message_key: str, sent_at: datetime) -> str:
    """The outbox form of an SMS: a few headers, a blank line, the text."""
    return f"To: {recipient}\nDate: {sent_at.isoformat()}\nKey: {message_key}\n\n{text}\n"


def _digest(message_key: str) -> str:
    return hashlib.sha256(message_key.encode()).hexdigest()[:32]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Outbox:
    """A folder holding a copy of every message sent, named by time and message key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, message_key: str, sent_at: datetime, suffix: str) -> Path:
        stamp = sent_at.strftime("%Y%m%dT%H%M%S")
        name = _UNSAFE.sub("_", message_key).strip("_")[:80] or "message"
        return self.folder / f"{stamp}-{name}-{_digest(message_key)[:8]}{suffix}"

    def write_email(self, email: EmailMessage, message_key: str, sent_at: datetime) -> Path:
        """Store an e-mail as ``.eml``; returns its path."""
        path = self._path(message_key, sent_at, ".eml")
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(email.as_bytes())
        return path

    def write_sms(self, text: str, message_key: str, sent_at: datetime) -> Path:
        """Store an SMS as ``.txt``; returns its path."""
        path = self._path(message_key, sent_at, ".txt")
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path
