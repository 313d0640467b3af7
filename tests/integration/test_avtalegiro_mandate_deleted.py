"""A mandate deleted at the bank puts its subscription back on invoice with KID and records
``mandate.deleted`` in that transaction, from which the customer is told once, in the customer's language:
a second drop of the same deletion file, or another deletion of a mandate already deleted, records and
tells nothing more; a crash after the switch committed loses nothing, and the import's retry records
nothing twice; a deletion of a mandate that was never active records nothing and tells nobody."""

from __future__ import annotations

from typing import Any

import pytest
from chalice.test import Client

from chalicelib.avtalegiro.models import MandateStatus
from chalicelib.container import Services
from chalicelib.events import Event, EventType
from chalicelib.formats.avtalegiro.records import content_hash
from chalicelib.notifications.render import MessageKind
from chalicelib.notifications.sender import SendStatus
from chalicelib.store import keys
from chalicelib.subscriptions.models import AgreementStatus, PaymentAgreement, Subscription
from chalicelib.values import PaymentMethod
from infra.awscalls import InjectedCrash, fail_at_call
from tests.integration.test_avtalegiro_claims import mandate_file
from tests.integration.test_avtalegiro_handlers import invoke_mandates, s3_notification, sqs_event
from tests.integration.test_notification_queue import queued
from tests.support.catalog import Http, build_catalog, person
from tests.support.dunning import plain_text, sent_mail
from tests.support.events import recorded_events

ACTIVE = 1  # the mandate file's registration type: new or changed
DELETED = 2


def avtalegiro_order(
    services: Services, api: Client, admin: dict[str, str], **customer: Any
) -> dict[str, Any]:
    """An order paid by AvtaleGiro, its notices taken off the queue."""
    http = Http(api, admin)
    catalog = build_catalog(http)
    body = {
        "offer_id": catalog.campaign_offer["id"],
        "payment_method": "avtalegiro",
        "customer": person(**customer),
    }
    status, order = http.post("/v1/orders", body)
    assert status == 201, order
    queued(services)
    return dict(order)


def drop(services: Services, key: str, data: bytes) -> dict[str, Any]:
    """Put a mandate file in the bucket and deliver S3's notification of it to the import function."""
    services.s3.put_object(Bucket=services.settings.documents_bucket, Key=key, Body=data)
    return invoke_mandates(sqs_event(services, s3_notification(services, key, key)))


def mandates_deleted() -> list[Event]:
    """Every ``mandate.deleted`` recorded so far."""
    return [event for event in recorded_events() if event.type is EventType.MANDATE_DELETED]


def paid_by(services: Services, order: dict[str, Any]) -> tuple[PaymentMethod, AgreementStatus]:
    subscription = services.documents.get_document(
        keys.subscription(order["subscription_id"]).pk, "SUB", Subscription
    )
    agreement = services.documents.get_document(
        keys.agreement(order["agreement_id"]).pk, "AGREEMENT", PaymentAgreement
    )
    assert subscription is not None and agreement is not None
    return subscription.payment_method, agreement.status


def test_a_deleted_mandate_puts_the_subscription_on_invoice_and_tells_the_customer_once(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    # Given an English-speaking customer paying by AvtaleGiro with an active mandate
    order = avtalegiro_order(services, api, admin, email="emma@example.com", language="en")
    kid = order["payment"]["kid"]
    assert drop(services, "avtalegiro/mandates/1.txt", mandate_file(kid, ACTIVE)) == {"batchItemFailures": []}
    assert paid_by(services, order) == (PaymentMethod.AVTALEGIRO, AgreementStatus.ACTIVE)
    assert queued(services) == []  # an activation tells nothing

    # When Nets' next file deletes the mandate
    deletion = mandate_file(kid, DELETED)
    assert drop(services, "avtalegiro/mandates/2.txt", deletion) == {"batchItemFailures": []}

    # Then the subscription pays by invoice with KID again, mandate.deleted is recorded for it, and its
    # dispatch queues one notice
    assert paid_by(services, order) == (PaymentMethod.INVOICE, AgreementStatus.STOPPED)
    [event] = mandates_deleted()
    subscription = services.documents.get_document(
        keys.subscription(order["subscription_id"]).pk, "SUB", Subscription
    )
    assert subscription is not None
    assert (event.legal_entity_id, dict(event.data)) == (
        subscription.legal_entity_id,
        {
            "kid": kid,
            "customer_id": order["customer_id"],
            "subscription_ids": [order["subscription_id"]],
            "file_id": content_hash(deletion),
        },
    )
    key = f"mandate-deleted:{kid}:{content_hash(deletion)}"
    [notice] = queued(services)
    assert (notice.kind, notice.key, notice.refs["subscription_ids"]) == (
        MessageKind.MANDATE_DELETED,
        key,
        order["subscription_id"],
    )
    result = services.notification_dispatcher.dispatch(notice).result
    assert result is not None and result.status is SendStatus.SENT
    [(sent_key, mail)] = sent_mail()
    assert (sent_key, mail["To"], mail["Subject"]) == (
        key,
        "emma@example.com",
        "Your AvtaleGiro agreement has ended",
    )
    text = plain_text(mail)
    assert f"Your AvtaleGiro agreement (mandate) with KID {kid} has been ended at your bank" in text
    assert "collect the payments for Nordavisa digital by AvtaleGiro" in text
    assert f"set it up in your online bank with the same KID: {kid}." in text

    # When the same deletion file is dropped again (under another name, and redelivered)
    assert drop(services, "avtalegiro/mandates/2-again.txt", deletion) == {"batchItemFailures": []}
    assert drop(services, "avtalegiro/mandates/2.txt", deletion) == {"batchItemFailures": []}
    # And another file deletes the mandate already deleted (the notice flag differs: other bytes)
    assert drop(services, "avtalegiro/mandates/3.txt", mandate_file(kid, DELETED, notify=False)) == {
        "batchItemFailures": []
    }
    # Then nothing more is recorded, queued or sent, and the subscription still pays by invoice
    assert mandates_deleted() == [event]
    assert queued(services) == []
    assert [k for k, _ in sent_mail()] == [key]
    assert paid_by(services, order) == (PaymentMethod.INVOICE, AgreementStatus.STOPPED)


def test_a_new_mandate_deleted_again_gets_a_new_letter(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    order = avtalegiro_order(services, api, admin)
    kid = order["payment"]["kid"]
    mandates = services.avtalegiro.mandates
    first_deletion = mandate_file(kid, DELETED)
    mandates.import_bytes(mandate_file(kid, ACTIVE), "avtalegiro/mandates/1.txt")
    mandates.import_bytes(first_deletion, "avtalegiro/mandates/2.txt")
    # The payer registers AvtaleGiro again with the same KID, and deletes it again
    again = mandate_file(kid, ACTIVE, notify=False)
    second_deletion = mandate_file(kid, DELETED, notify=False)
    mandates.import_bytes(again, "avtalegiro/mandates/3.txt")
    assert paid_by(services, order) == (PaymentMethod.AVTALEGIRO, AgreementStatus.ACTIVE)
    mandates.import_bytes(second_deletion, "avtalegiro/mandates/4.txt")
    # (two events of one frozen instant: their ids do not order them)
    assert sorted(event.data["file_id"] for event in mandates_deleted()) == sorted(
        [content_hash(first_deletion), content_hash(second_deletion)]
    )
    assert [n.key for n in queued(services)] == [
        f"mandate-deleted:{kid}:{content_hash(first_deletion)}",
        f"mandate-deleted:{kid}:{content_hash(second_deletion)}",
    ]


def test_a_crash_after_the_switch_loses_no_notice_and_the_retry_records_nothing_twice(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    # Given a Norwegian customer with an active mandate
    order = avtalegiro_order(services, api, admin, email="kari@example.no")
    kid = order["payment"]["kid"]
    mandates = services.avtalegiro.mandates
    mandates.import_bytes(mandate_file(kid, ACTIVE), "avtalegiro/mandates/1.txt")
    deletion = mandate_file(kid, DELETED)
    # When the import dies right after the KID's transaction committed (the file's report was created by
    # the first transaction, the switch is the second), before the file counts as imported
    with (
        fail_at_call(2, service="dynamodb", operation="TransactWriteItems", when="after") as fault,
        pytest.raises(InjectedCrash),
    ):
        mandates.import_bytes(deletion, "avtalegiro/mandates/2.txt")
    assert fault.fired
    report = mandates.report(content_hash(deletion))
    assert report is not None and report.status == "importing"
    # Then the switch and its event are there: the notice needs nothing from the import that died
    assert paid_by(services, order) == (PaymentMethod.INVOICE, AgreementStatus.STOPPED)
    [event] = mandates_deleted()
    assert event.data["subscription_ids"] == [order["subscription_id"]]
    # When the import is retried, it finishes the file and records nothing again
    mandates.import_bytes(deletion, "avtalegiro/mandates/2.txt")
    report = mandates.report(content_hash(deletion))
    assert report is not None and report.status == "imported"
    assert mandates_deleted() == [event]
    mandate = mandates.mandate(kid)
    assert mandate is not None and mandate.switched_to_invoice == [order["subscription_id"]]
    # And the customer is told once, in Norwegian
    [notice] = queued(services)
    assert notice.key == f"mandate-deleted:{kid}:{content_hash(deletion)}"
    services.notification_dispatcher.dispatch(notice)
    [(_, mail)] = sent_mail()
    assert mail["Subject"] == "AvtaleGiro-avtalen din er avsluttet"
    assert "faktura med KID, som du betaler innen forfallsdatoen" in plain_text(mail)


def test_a_deletion_of_a_mandate_that_was_never_active_tells_nobody(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    order = avtalegiro_order(services, api, admin)
    kid = order["payment"]["kid"]
    mandates = services.avtalegiro.mandates
    result = mandates.import_bytes(mandate_file(kid, DELETED), "avtalegiro/mandates/1.txt")
    assert result.linked == 1
    mandate = mandates.mandate(kid)
    assert mandate is not None and mandate.status == MandateStatus.DELETED
    assert mandate.switched_to_invoice == []
    assert paid_by(services, order)[0] == PaymentMethod.INVOICE
    assert mandates_deleted() == []
    assert queued(services) == []
