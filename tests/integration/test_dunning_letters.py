"""Dunning's messages go out through the events: a letter step's ``dunning.step_taken`` and a failed
charge's ``payment.failed`` ask the notifications for them, sent once per message key."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chalicelib.container import Services
from chalicelib.events import EventType
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.money import Currency
from chalicelib.notifications.queue import Notice
from chalicelib.notifications.sender import SendStatus
from chalicelib.values import PaymentMethod
from tests.integration.test_dunning_run import record_payment_failed
from tests.support.dunning import World, plain_text, send_dunning_messages, sent_mail, take_notices
from tests.support.events import dispatch_events, recorded_events


def letter_notices(services: Services) -> list[Notice]:
    return [notice for notice in take_notices(services) if notice.key.startswith("dunning:")]


def test_a_letter_is_sent_once_when_its_event_is_delivered_twice(dunned: World, services: Services) -> None:
    invoice = dunned.order("to-ganger@example.no")
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 29))
    dispatch_events(services)  # the stream's first delivery of every event
    [step] = [
        event
        for event in recorded_events()
        if event.type is EventType.DUNNING_STEP_TAKEN and event.data["invoice_id"] == invoice.id
    ]
    assert (step.data["step"], step.data["action"]) == ("reminder-1", "reminder")
    services.event_dispatcher.dispatch(step)  # ... and a redelivery of the step's event
    notices = letter_notices(services)
    key = f"dunning:{invoice.id}:reminder-1"
    assert [notice.key for notice in notices] == [key, key]

    results = [services.notification_dispatcher.dispatch(notice).result for notice in notices]

    assert [result.status if result else None for result in results] == [
        SendStatus.SENT,
        SendStatus.DUPLICATE,
    ]
    [(sent_key, mail)] = sent_mail()
    assert sent_key == key and mail["Subject"] == "Påminnelse: faktura 1 er ikke betalt"
    assert "Å betale: 334,00\xa0kr (herav purregebyr 35,00\xa0kr)" in plain_text(mail)
    [letter] = services.dunning.service.case(invoice.id).letters
    assert letter.delivery == "sent"


def test_a_letter_whose_invoice_was_paid_before_it_went_out_is_skipped(
    dunned: World, services: Services
) -> None:
    invoice = dunned.order("betalt@example.no")
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 29))
    [letter] = dunned.case(invoice.id).letters
    # The customer pays the invoice in full after the reminder's step, before its notice is handled
    services.ledger.record_payment(
        IncomingPayment(
            source="test",
            source_reference="pay-before-letter",
            method=IncomingMethod.GIRO,
            amount=29900,
            currency=Currency.NOK,
            paid_on=date(2027, 1, 29),
            kid=invoice.kid,
            kid_valid=True,
        )
    )

    [dispatched] = send_dunning_messages(services)

    assert (dispatched.key, dispatched.result, dispatched.reason) == (letter.key, None, "paid")
    assert sent_mail() == []
    [shown] = services.dunning.service.case(invoice.id).letters
    assert shown.delivery == "skipped"


def test_the_failed_charge_message_comes_from_the_payment_failed_event(
    dunned: World, services: Services
) -> None:
    invoice = dunned.order("kort-feil@example.no", method="card")
    failed_at = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    dunned.dunning.service.record_failed_charge(invoice.id, PaymentMethod.CARD, "declined", failed_at)
    # Dunning records the failure and sends nothing itself
    assert send_dunning_messages(services) == []
    assert sent_mail() == []

    record_payment_failed(services, invoice, "charge-0", failed_at)
    record_payment_failed(services, invoice, "charge-1", datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    dispatched = send_dunning_messages(services)

    # One message per invoice, however many charges fail
    key = f"dunning:{invoice.id}:failed-charge"
    assert [(d.key, d.result.status if d.result else None) for d in dispatched] == [
        (key, SendStatus.SENT),
        (key, SendStatus.DUPLICATE),
    ]
    [(sent_key, mail)] = sent_mail()
    assert sent_key == key
    text = plain_text(mail)
    assert "Vi prøver igjen 4. januar 2027." in text
    assert "299,00\xa0kr" in text


def test_a_letter_to_an_opted_out_customer_shows_so(dunned: World, services: Services) -> None:
    invoice = dunned.order("nei-takk@example.no")
    status, _ = dunned.http.patch(
        f"/v1/customers/{invoice.customer_id}", {"email_opt_out": True, "sms_opt_out": True}
    )
    assert status == 200
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 29))

    [dispatched] = send_dunning_messages(services)

    assert dispatched.result is not None and dispatched.result.status is SendStatus.OPTED_OUT
    assert sent_mail() == []
    [letter] = services.dunning.service.case(invoice.id).letters
    assert letter.delivery == "opted_out"
