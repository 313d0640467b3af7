"""Notifications through SES and SNS on moto: sent once per message key, copied to the outbox, and never
to a customer who opted out of the channel."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from chalicelib.clock import FixedClock
from chalicelib.container import Services
from chalicelib.money import Currency, Money
from chalicelib.notifications.outbox import Attachment
from chalicelib.notifications.render import MessageKind
from chalicelib.notifications.sender import (
    STALE_CLAIM,
    Channel,
    NotificationSender,
    Recipient,
    SendResult,
    SendStatus,
    SentNotification,
    marker_keys,
)
from chalicelib.store.documents import document_item
from tests.support.aws import REGION

FROM = "faktura@avishuset.no"
NOW = datetime(2027, 2, 1, 7, 30, tzinfo=UTC)
PDF = b"%PDF-1.4\n% invoice 20270042\n%%EOF\n"
KARI = Recipient(customer_id="cus_kari", language="nb", email="kari@example.no", phone="+4791234567")


def invoice_context() -> dict[str, Any]:
    return {
        "customer_name": "Kari Nordmann",
        "seller_name": "Avishuset AS",
        "invoice_number": "20270042",
        "amount": Money(34_900, Currency.NOK),
        "due_date": date(2027, 2, 15),
        "kid": "0001000420009",
        "account_number": "1503 12 34567",
        "pdf_attached": True,
    }


def reminder_context() -> dict[str, Any]:
    return invoice_context() | {"new_due_date": date(2027, 3, 1), "fee": Money(3_500, Currency.NOK)}


@pytest.fixture
def ses(services: Services) -> Any:
    client = boto3.client("ses", region_name=REGION)
    client.verify_email_identity(EmailAddress=FROM)
    assert FROM in client.list_identities(IdentityType="EmailAddress")["Identities"]
    return client


@pytest.fixture
def sns(services: Services) -> Any:
    return boto3.client("sns", region_name=REGION)


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def sender(services: Services, ses: Any, sns: Any, outbox: Path) -> NotificationSender:
    return NotificationSender(
        services.documents,
        ses,
        sns,
        FixedClock(NOW),
        from_address=FROM,
        outbox=outbox,
        sms_sender_id="Avishuset",
    )


def sent_raw_emails() -> list[str]:
    """What moto's SES received (its server runs in this process)."""
    return [message.raw_data for message in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]


def test_invoice_mail_with_pdf_is_sent_through_ses_and_kept_in_the_outbox(
    sender: NotificationSender, ses: Any, outbox: Path, services: Services
) -> None:
    result = sender.send(
        message_key="invoice_issued:inv_42",
        kind=MessageKind.INVOICE_ISSUED,
        channel=Channel.EMAIL,
        recipient=KARI,
        context=invoice_context(),
        attachments=[Attachment("faktura-20270042.pdf", PDF)],
    )
    assert result.status is SendStatus.SENT
    assert result.provider_message_id
    assert len(sent_raw_emails()) == 1

    assert result.outbox_path is not None and result.outbox_path.parent == outbox
    assert result.outbox_path.name.startswith("20270201T073000-invoice_issued_inv_42-")
    assert result.outbox_path.suffix == ".eml"
    saved = email.message_from_bytes(result.outbox_path.read_bytes(), policy=default)
    assert isinstance(saved, EmailMessage)
    assert saved["Subject"] == "Faktura 20270042 fra Avishuset AS"
    assert (saved["From"], saved["To"]) == (FROM, "kari@example.no")
    assert saved["X-Abo-Message-Key"] == "invoice_issued:inv_42"
    plain = saved.get_body(("plain",))
    html = saved.get_body(("html",))
    assert plain is not None and "Forfallsdato: 15. februar 2027" in plain.get_content()
    assert html is not None and "<p>Fakturaen ligger vedlagt som PDF.</p>" in html.get_content()
    [attachment] = list(saved.iter_attachments())
    assert attachment.get_filename() == "faktura-20270042.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF

    keys = marker_keys("invoice_issued:inv_42")
    marker = services.documents.get_document(keys.pk, keys.sk, SentNotification)
    assert marker is not None
    assert (marker.status, marker.channel, marker.address) == ("sent", Channel.EMAIL, "kari@example.no")
    assert marker.provider_message_id == result.provider_message_id
    assert marker.sent_at == NOW


def test_the_same_key_never_sends_twice(sender: NotificationSender, ses: Any, outbox: Path) -> None:
    first = sender.send(
        message_key="reminder:inv_42:reminder-1",
        kind=MessageKind.REMINDER,
        channel=Channel.EMAIL,
        recipient=KARI,
        context=reminder_context(),
    )
    again = sender.send(
        message_key="reminder:inv_42:reminder-1",
        kind=MessageKind.REMINDER,
        channel=Channel.EMAIL,
        recipient=KARI,
        context=reminder_context(),
    )
    assert (first.status, again.status) == (SendStatus.SENT, SendStatus.DUPLICATE)
    assert again.provider_message_id == first.provider_message_id
    assert len(sent_raw_emails()) == 1
    assert len(list(outbox.glob("*.eml"))) == 1


def test_sms_goes_through_sns_once_and_to_the_outbox_as_text(
    sender: NotificationSender, outbox: Path
) -> None:
    for _ in range(2):
        result = sender.send(
            message_key="reminder:inv_42:sms",
            kind=MessageKind.REMINDER,
            channel=Channel.SMS,
            recipient=KARI,
            context=reminder_context(),
        )
    assert result.status is SendStatus.DUPLICATE
    expected = (
        "Påminnelse: faktura 20270042 fra Avishuset AS er ikke betalt. "
        "Å betale: 349,00 kr innen 1. mars 2027. KID: 0001000420009."
    )
    sms = list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())
    assert [(phone, text) for phone, text in sms] == [("+4791234567", expected)]
    [saved] = list(outbox.glob("*.txt"))
    assert saved.read_text(encoding="utf-8") == (
        f"To: +4791234567\nDate: 2027-02-01T07:30:00+00:00\nKey: reminder:inv_42:sms\n\n{expected}\n"
    )


def test_opt_outs_are_respected_per_channel(sender: NotificationSender, ses: Any, services: Services) -> None:
    no_mail = Recipient(
        customer_id="cus_ola", language="nb", email="ola@example.no", phone="+4798765432", email_opt_out=True
    )
    mail = sender.send(
        message_key="paused:sub_1",
        kind=MessageKind.SUBSCRIPTION_PAUSED,
        channel=Channel.EMAIL,
        recipient=no_mail,
        context={
            "customer_name": "Ola",
            "seller_name": "Avishuset AS",
            "product_name": "Avisen",
            "paused_from": date(2027, 7, 1),
        },
    )
    assert mail.status is SendStatus.OPTED_OUT
    assert sent_raw_emails() == []
    keys = marker_keys("paused:sub_1")
    assert services.documents.get(keys.pk, keys.sk) is None
    sms = sender.send(
        message_key="paused:sub_1:sms",
        kind=MessageKind.SUBSCRIPTION_PAUSED,
        channel=Channel.SMS,
        recipient=no_mail,
        context={
            "customer_name": "Ola",
            "seller_name": "Avishuset AS",
            "product_name": "Avisen",
            "paused_from": date(2027, 7, 1),
        },
    )
    assert sms.status is SendStatus.SENT
    no_phone = Recipient(customer_id="cus_eva", language="nb", email="eva@example.no")
    assert (
        sender.send(
            message_key="paused:sub_2:sms",
            kind=MessageKind.SUBSCRIPTION_PAUSED,
            channel=Channel.SMS,
            recipient=no_phone,
            context={
                "customer_name": "Eva",
                "seller_name": "Avishuset AS",
                "product_name": "Avisen",
                "paused_from": date(2027, 7, 1),
            },
        ).status
        is SendStatus.NO_ADDRESS
    )


def test_the_customers_language_is_used(sender: NotificationSender, outbox: Path) -> None:
    swedish = Recipient(customer_id="cus_sven", language="sv-SE", email="sven@example.se")
    context = invoice_context() | {"amount": Money(34_900, Currency.SEK), "pdf_attached": False}
    result = sender.send(
        message_key="invoice_issued:inv_se_1",
        kind=MessageKind.INVOICE_ISSUED,
        channel=Channel.EMAIL,
        recipient=swedish,
        context=context,
    )
    assert result.outbox_path is not None
    saved = email.message_from_bytes(result.outbox_path.read_bytes(), policy=default)
    assert saved["Subject"] == "Faktura 20270042 från Avishuset AS"
    raw = sent_raw_emails()
    assert raw == [result.outbox_path.read_bytes().decode()]


def test_a_refused_message_releases_its_key_for_a_retry(services: Services, sns: Any, outbox: Path) -> None:
    ses = boto3.client("ses", region_name=REGION)
    sender = NotificationSender(
        services.documents, ses, sns, FixedClock(NOW), from_address="unverified@avishuset.no", outbox=outbox
    )
    with pytest.raises(ClientError, match="MessageRejected"):
        sender.send(
            message_key="invoice_issued:inv_43",
            kind=MessageKind.INVOICE_ISSUED,
            channel=Channel.EMAIL,
            recipient=KARI,
            context=invoice_context(),
        )
    keys = marker_keys("invoice_issued:inv_43")
    assert services.documents.get(keys.pk, keys.sk) is None
    assert not outbox.exists()
    ses.verify_email_identity(EmailAddress="unverified@avishuset.no")
    retried = sender.send(
        message_key="invoice_issued:inv_43",
        kind=MessageKind.INVOICE_ISSUED,
        channel=Channel.EMAIL,
        recipient=KARI,
        context=invoice_context(),
    )
    assert retried.status is SendStatus.SENT


def test_a_claim_left_by_a_crash_is_taken_over_once_it_is_stale_and_the_letter_goes_out(
    services: Services, ses: Any, sns: Any, outbox: Path
) -> None:
    # Given a reminder whose send crashed after claiming its key (the claim says "sending", no message)
    keys = marker_keys("dunning:inv_42:reminder-1")
    crashed = SentNotification(
        message_key="dunning:inv_42:reminder-1",
        kind=MessageKind.REMINDER,
        channel=Channel.EMAIL,
        customer_id="cus_kari",
        address="kari@example.no",
        language="nb",
        status="sending",
        claimed_at=NOW,
    )
    services.documents.put_new(document_item("notification", keys, crashed, status="sending"))

    def send_at(moment: datetime) -> SendResult:
        sender = NotificationSender(services.documents, ses, sns, FixedClock(moment), from_address=FROM)
        return sender.send(
            message_key="dunning:inv_42:reminder-1",
            kind=MessageKind.REMINDER,
            channel=Channel.EMAIL,
            recipient=KARI,
            context=reminder_context(),
        )

    # When the dunning worker retries within the stale limit, the claim may still be in flight: nothing
    assert send_at(NOW + STALE_CLAIM - timedelta(seconds=1)).status is SendStatus.DUPLICATE
    assert sent_raw_emails() == []
    # Then past it, the retry takes the claim over and the letter goes out, once
    assert send_at(NOW + STALE_CLAIM).status is SendStatus.SENT
    assert len(sent_raw_emails()) == 1
    marker = services.documents.get_document(keys.pk, keys.sk, SentNotification)
    assert marker is not None and (marker.status, marker.claimed_at) == ("sent", NOW + STALE_CLAIM)
    assert send_at(NOW + 2 * STALE_CLAIM).status is SendStatus.DUPLICATE
    assert len(sent_raw_emails()) == 1
