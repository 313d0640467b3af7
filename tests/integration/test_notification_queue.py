"""Notifications from the flows: each flow records its events with its change, the event dispatcher turns
them into small notices, the consumer sends each once in the customer's language (the invoice PDF attached
when paid by invoice), opt-outs hold, and a process that dies right after a commit loses no notice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from chalicelib.events import EventType
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.money import Currency
from chalicelib.notifications.queue import Notice
from chalicelib.notifications.render import MessageKind
from chalicelib.notifications.sender import SendStatus
from chalicelib.subscriptions.models import StopWhen, SubscriptionStatus
from tests.support.catalog import Catalog, Http
from tests.support.dunning import NO_PLAN, World, allow_mail, plain_text, sent_mail, take_notices
from tests.support.events import recorded_events


def queued(services: Services) -> list[Notice]:
    """Dispatch the recorded events, then take every notice off the notification queue (nothing is
    sent)."""
    return take_notices(services)


def test_an_order_is_confirmed_and_its_invoice_sent_with_the_pdf_once(
    dunned: World, services: Services
) -> None:
    invoice = dunned.order("emma@example.com", language="en", name="Emma Smith")
    notices = queued(services)
    order_key = next(n.key for n in notices if n.kind is MessageKind.ORDER_CONFIRMATION)
    assert [n.key for n in notices] == [order_key, f"invoice-issued:{invoice.id}"]
    assert order_key.startswith("order-confirmation:ord_")

    results = [services.notification_dispatcher.dispatch(n) for n in [*notices, *notices]]
    assert [r.result.status if r.result else None for r in results] == [
        SendStatus.SENT,
        SendStatus.SENT,
        SendStatus.DUPLICATE,
        SendStatus.DUPLICATE,
    ]
    mails = dict(sent_mail())
    assert sorted(mails) == sorted([order_key, f"invoice-issued:{invoice.id}"])
    issued = mails[f"invoice-issued:{invoice.id}"]
    assert issued["To"] == "emma@example.com"
    assert issued["Subject"] == f"Invoice {invoice.number} from Avishuset Nord AS"
    assert "The invoice is attached as a PDF." in plain_text(issued)
    [pdf] = list(issued.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_content()[:5]) == ("application/pdf", b"%PDF-")
    confirmation = mails[order_key]
    assert "Emma Smith" in plain_text(confirmation)


def test_an_opted_out_customer_gets_nothing(dunned: World, services: Services) -> None:
    invoice = dunned.order("ola@example.no")
    status, changed = dunned.http.patch(
        f"/v1/customers/{invoice.customer_id}", {"email_opt_out": True, "sms_opt_out": True}
    )
    assert (status, changed["email_opt_out"], changed["sms_opt_out"]) == (200, True, True)
    results = [services.notification_dispatcher.dispatch(n) for n in queued(services)]
    assert [r.result.status if r.result else None for r in results] == [SendStatus.OPTED_OUT] * 2
    assert sent_mail() == []


def test_a_payment_is_acknowledged_once_and_a_replayed_payment_records_nothing(
    dunned: World, services: Services
) -> None:
    invoice = dunned.order("kari@example.no")
    queued(services)
    payment = IncomingPayment(
        source="test",
        source_reference="bank-1",
        method=IncomingMethod.BANK_TRANSFER,
        amount=invoice.open_amount,
        currency=Currency.NOK,
        paid_on=date(2027, 1, 5),
        kid=invoice.kid,
        kid_valid=True,
    )
    services.ledger.record_payment(payment)
    [notice] = queued(services)
    # From the invoice.paid event the payment's transaction recorded, dated as the bank dated it
    assert (notice.kind, notice.key, notice.refs["paid_on"]) == (
        MessageKind.PAYMENT_RECEIVED,
        f"payment-received:{invoice.id}",
        "2027-01-05",
    )
    # The import's retry records the same payment again: it changes nothing, so nothing is told again
    before = recorded_events()
    services.ledger.record_payment(payment)
    assert recorded_events() == before
    assert queued(services) == []
    result = services.notification_dispatcher.dispatch(notice).result
    assert result is not None and result.status is SendStatus.SENT
    [(key, mail)] = sent_mail()
    assert key == f"payment-received:{invoice.id}"
    assert mail["To"] == "kari@example.no"


def test_an_invoice_run_worker_that_dies_after_its_commit_loses_no_notice(
    dunned: World, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = dunned.order("kari@example.no")
    queued(services)
    commit = services.documents.write

    def commit_then_die(*args: Any, **kwargs: Any) -> None:
        commit(*args, **kwargs)
        raise RuntimeError("the worker died after its commit")

    # February's invoice is issued on 18 January; the worker dies before it could have enqueued anything
    with monkeypatch.context() as patch:
        patch.setattr(services.documents, "write", commit_then_die)
        with pytest.raises(RuntimeError):
            for shard in range(16):
                services.invoice_run.work(date(2027, 1, 18), shard, date(2027, 1, 18), services.clock.now())
    [renewal] = [
        e
        for e in recorded_events()
        if e.type is EventType.INVOICE_ISSUED and e.data["invoice_id"] != first.id
    ]
    # The event committed with the invoice: the dispatcher brings its notice
    [notice] = queued(services)
    assert notice.key == f"invoice-issued:{renewal.data['invoice_id']}"
    # The redelivered work item finds nothing left to issue and records nothing more
    before = recorded_events()
    for shard in range(16):
        report = services.invoice_run.work(date(2027, 1, 18), shard, date(2027, 1, 18), services.clock.now())
        assert report.issued == []
    assert recorded_events() == before
    assert queued(services) == []
    sent = services.notification_dispatcher.dispatch(notice).result
    assert sent is not None and sent.status is SendStatus.SENT


def test_a_change_pause_and_stop_are_told(dunned: World, services: Services) -> None:
    invoice = dunned.order("kari@example.no")
    queued(services)
    subscription_id = invoice.subscription_id or ""
    services.pause_subscription.pause(subscription_id, date(2027, 2, 1), date(2027, 3, 1))
    services.pause_subscription.pause(subscription_id, date(2027, 2, 1), date(2027, 3, 1))  # a retry
    services.stop_subscription.stop(subscription_id, StopWhen.NOW, None)
    notices = queued(services)
    # The retried pause records nothing; the stop credits the unpaid January and invoices the day used,
    # like any issued invoice
    assert [n.key for n in notices] == [
        f"subscription-paused:{subscription_id}:2027-02-01",
        f"subscription-stopped:{subscription_id}",
        f"invoice-issued:inv_{subscription_id.removeprefix('sub_')}_r1",
    ]
    for notice in notices:
        services.notification_dispatcher.dispatch(notice)
    mails = dict(sent_mail())
    assert mails[f"subscription-stopped:{subscription_id}"]["Subject"].startswith("Oppsigelsen av")
    assert "Siste dag er 1. januar 2027." in plain_text(mails[f"subscription-stopped:{subscription_id}"])


def test_dunning_suspends_access_and_stops_the_subscription(
    services: Services, api: Client, dunning_api: Client, admin: dict[str, str], catalog: Catalog
) -> None:
    plan = {
        **NO_PLAN,
        "steps": [
            {"key": "reminder-1", "kind": "reminder", "days": 14, "deadline_days": 14},
            {"key": "suspend", "kind": "suspend", "days": 21},
            {"key": "stop", "kind": "stop", "days": 35},
        ],
    }
    status, created = Http(dunning_api, admin).post(
        "/v1/dunning-plans", {**plan, "legal_entity_id": catalog.seller["id"]}
    )
    assert status == 201, created
    allow_mail(services)
    dunned = World(
        services,
        Http(api, admin),
        services.dunning,
        catalog.seller["id"],
        catalog.invoice_offer["id"],
    )
    invoice = dunned.order("kari@example.no")
    subscription_id = invoice.subscription_id or ""
    product_id = services.subscriptions.subscription(subscription_id).subscription.product_ids[0]
    assert services.access.check(invoice.customer_id, product_id).has_access

    services.clock_service.advance(datetime(2027, 2, 5, 12, 0, tzinfo=UTC))  # day 21 after 15 January
    case = dunned.case(invoice.id)
    assert f"dunning:{invoice.id}:suspend" in case.done
    assert not services.access.check(invoice.customer_id, product_id).has_access
    # The suspension step's transaction recorded the access it took away
    [suspended] = [e for e in recorded_events() if e.type is EventType.ACCESS_REVOKED]
    assert (suspended.data["subscription_id"], suspended.data["product_ids"], suspended.data["reason"]) == (
        subscription_id,
        [product_id],
        "suspension",
    )
    assert suspended.data["effective"] == "2027-02-05"

    services.clock_service.advance(datetime(2027, 2, 19, 12, 0, tzinfo=UTC))  # day 35
    case = dunned.case(invoice.id)
    assert case.done[f"dunning:{invoice.id}:stop"] == date(2027, 2, 19)
    stopped = services.subscriptions.subscription(subscription_id).subscription
    assert (stopped.status, stopped.ends_on, stopped.stop_reason) == (
        SubscriptionStatus.STOPPED,
        date(2027, 2, 20),
        "dunning: unpaid invoice",
    )
    # The stop ends access on its end date: it never gives back the day the suspension took
    assert not services.access.check(invoice.customer_id, product_id).has_access
    [ordered] = [e for e in recorded_events() if e.type is EventType.SUBSCRIPTION_STOPPED]
    assert (ordered.data["end"], ordered.data["reason"]) == ("2027-02-20", "dunning: unpaid invoice")
    assert [e.data["reason"] for e in recorded_events() if e.type is EventType.ACCESS_REVOKED] == [
        "suspension"
    ]


def test_the_invoice_of_a_change_is_sent_like_any_issued_invoice(dunned: World, services: Services) -> None:
    invoice = dunned.order("kari@example.no")
    queued(services)
    subscription_id = invoice.subscription_id or ""
    services.change_subscription.change(subscription_id, None, 2, StopWhen.NOW)
    notices = queued(services)
    issued = [n for n in notices if n.kind is MessageKind.INVOICE_ISSUED]
    assert len(issued) == 1 and issued[0].refs["invoice_id"] != invoice.id
    restated = dunned.invoice(issued[0].refs["invoice_id"])
    assert (restated.status, restated.subscription_id) == ("issued", subscription_id)
    assert [n.kind for n in notices].count(MessageKind.SUBSCRIPTION_CHANGED) == 1
    for notice in notices:
        services.notification_dispatcher.dispatch(notice)
    assert issued[0].key in dict(sent_mail())


def test_a_stop_that_dies_right_after_its_commits_still_tells_of_the_stop_and_the_restated_invoice(
    dunned: World, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoice = dunned.order("kari@example.no")
    queued(services)
    subscription_id = invoice.subscription_id or ""
    restated_id = f"inv_{subscription_id.removeprefix('sub_')}_r1"

    def die(subscription_id: str) -> None:
        raise RuntimeError("the process died")

    # The stop commits, then its restatement (January credited, the day used invoiced again), then the
    # process dies before it returns (rebuilding the draft is the step after the last commit)
    with monkeypatch.context() as patch:
        patch.setattr(services.drafts, "rebuild", die)
        with pytest.raises(RuntimeError):
            services.stop_subscription.stop(subscription_id, StopWhen.NOW, None)
    assert dunned.invoice(restated_id).status == "issued"
    # Nothing is lost: both events committed with their changes, and their notices come
    notices = queued(services)
    assert [n.key for n in notices] == [
        f"subscription-stopped:{subscription_id}",
        f"invoice-issued:{restated_id}",
    ]
    for notice in notices:
        services.notification_dispatcher.dispatch(notice)
    assert f"invoice-issued:{restated_id}" in dict(sent_mail())
    # The client's retry finds the stop made: it records nothing more, and nothing more is sent
    before = recorded_events()
    services.stop_subscription.stop(subscription_id, StopWhen.NOW, None)
    assert recorded_events() == before
    assert queued(services) == []
