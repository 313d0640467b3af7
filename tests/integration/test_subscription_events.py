"""The events of a subscription's life and its access, each recorded in the transaction of its change: a
change, a pause, a resume, a stop, the end the invoice run makes of a stop, access taken away by them and
access a payment gives. A change that loses its transaction records nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from chalicelib.errors import ConflictError
from chalicelib.events import Event, EventType
from chalicelib.ledger.models import IncomingMethod
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.subscriptions.models import StopWhen, Subscription, SubscriptionStatus
from chalicelib.subscriptions.writes import subscription_item
from tests.support.catalog import Catalog, Http, person
from tests.support.events import recorded_events


@pytest.fixture
def http(api: Client, admin: dict[str, str]) -> Http:
    return Http(api, admin)


def order(http: Http, offer: dict[str, Any], email: str = "kari@example.no") -> dict[str, Any]:
    return http.created(
        "/v1/orders", {"offer_id": offer["id"], "payment_method": "invoice", "customer": person(email)}
    )


def of_type(type_: EventType) -> list[Event]:
    return [event for event in recorded_events() if event.type is type_]


def subscription(services: Services, subscription_id: str) -> Subscription:
    return services.subscriptions.subscription(subscription_id).subscription


def test_a_plan_change_records_the_change_the_access_it_takes_away_and_its_restatement(
    http: Http, services: Services, catalog: Catalog
) -> None:
    placed = order(http, catalog.bundle_offer)
    subscription_id = placed["subscription_id"]
    customer_id = subscription(services, subscription_id).customer_id

    changed = services.change_subscription.change(subscription_id, catalog.monthly["id"], None, StopWhen.NOW)

    effective = next(phase.start for phase in changed.phases if phase.source == "change")
    [event] = of_type(EventType.SUBSCRIPTION_CHANGED)
    assert (event.legal_entity_id, event.data) == (
        catalog.seller["id"],
        {
            "subscription_id": subscription_id,
            "customer_id": customer_id,
            "plan_id": catalog.monthly["id"],
            "quantity": 1,
            "effective": effective.isoformat(),
            "previous_plan_id": catalog.bundle["id"],
            "previous_quantity": 1,
        },
    )
    # The bundle's crossword is not in the new plan: its access ends where the change takes effect
    [revoked] = of_type(EventType.ACCESS_REVOKED)
    assert revoked.data == {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "product_ids": [catalog.crossword["id"]],
        "effective": effective.isoformat(),
        "reason": "change",
    }
    # The restatement: each credit note and the invoice for the new terms, with their own events
    issued = {e.data["invoice_id"]: e.data["document_kind"] for e in of_type(EventType.INVOICE_ISSUED)}
    restated_id = f"inv_{subscription_id.removeprefix('sub_')}_r1"
    assert issued[restated_id] == "invoice"
    credited = of_type(EventType.INVOICE_CREDITED)
    assert credited and {e.data["credit_note_id"] for e in credited} == {
        invoice_id for invoice_id, kind in issued.items() if kind == "credit_note"
    }
    assert {e.data["invoice_id"] for e in credited} == {placed["invoice_id"]}


def test_a_pause_and_its_resume_are_recorded_once(http: Http, services: Services, catalog: Catalog) -> None:
    placed = order(http, catalog.invoice_offer)
    subscription_id = placed["subscription_id"]
    customer_id = subscription(services, subscription_id).customer_id

    # From the middle of the month the order gave access for (a pause from the 1st takes nothing away)
    services.pause_subscription.pause(subscription_id, date(2027, 1, 15), None)
    services.pause_subscription.pause(subscription_id, date(2027, 1, 15), None)  # a retry: made already

    [paused] = of_type(EventType.SUBSCRIPTION_PAUSED)
    assert paused.data == {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "start": "2027-01-15",
        "end": None,
    }
    [revoked] = of_type(EventType.ACCESS_REVOKED)
    assert revoked.data == {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "product_ids": [catalog.news["id"]],
        "effective": "2027-01-15",
        "reason": "pause",
    }
    assert of_type(EventType.SUBSCRIPTION_RESUMED) == []

    services.pause_subscription.resume(subscription_id)
    [resumed] = of_type(EventType.SUBSCRIPTION_RESUMED)
    # The pause had not started: the subscription runs on from its first day
    assert resumed.data == {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "resumed_on": "2027-01-15",
    }


def test_a_stop_is_recorded_when_ordered_and_the_invoice_run_ends_the_subscription_on_its_end_date(
    http: Http, services: Services, catalog: Catalog
) -> None:
    placed = order(http, catalog.invoice_offer)
    subscription_id = placed["subscription_id"]
    customer_id = subscription(services, subscription_id).customer_id

    services.stop_subscription.stop(subscription_id, StopWhen.NOW, "moving abroad")
    services.stop_subscription.stop(subscription_id, StopWhen.NOW, "moving abroad")  # a retry records nothing

    # "Now" on 1 January: the last day is the 1st, the 2nd is the first day without it
    [stopped] = of_type(EventType.SUBSCRIPTION_STOPPED)
    assert stopped.data == {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "end": "2027-01-02",
        "reason": "moving abroad",
    }
    [revoked] = of_type(EventType.ACCESS_REVOKED)
    assert (revoked.data["effective"], revoked.data["reason"]) == ("2027-01-02", "stop")
    assert subscription(services, subscription_id).status is SubscriptionStatus.STOPPED
    assert of_type(EventType.SUBSCRIPTION_ENDED) == []

    # The run of the end date ends it (a plan without usage: there is no final invoice)
    services.clock_service.advance(datetime(2027, 1, 2, 12, 0, tzinfo=UTC))
    assert subscription(services, subscription_id).status is SubscriptionStatus.ENDED
    [ended] = of_type(EventType.SUBSCRIPTION_ENDED)
    assert ended.data == {
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "ended_on": "2027-01-02",
        "reason": "moving abroad",
    }
    # It has left the renewal index: later runs end it no more
    services.clock_service.advance(datetime(2027, 1, 4, 12, 0, tzinfo=UTC))
    assert len(of_type(EventType.SUBSCRIPTION_ENDED)) == 1


def test_a_payment_records_the_access_it_gives(http: Http, services: Services, catalog: Catalog) -> None:
    placed = order(http, catalog.campaign_offer)  # access on payment
    subscription_id = placed["subscription_id"]
    invoice = services.subscriptions.invoice(placed["invoice_id"])
    assert invoice.period is not None and invoice.kid is not None
    assert of_type(EventType.ACCESS_GRANTED) == []

    services.ledger.record_payment(
        IncomingPayment(
            source="test",
            source_reference="bank-1",
            method=IncomingMethod.BANK_TRANSFER,
            amount=invoice.open_amount,
            currency=Currency.NOK,
            paid_on=date(2027, 1, 5),
            kid=invoice.kid,
            kid_valid=True,
        )
    )

    [granted] = of_type(EventType.ACCESS_GRANTED)
    assert (granted.legal_entity_id, granted.data) == (
        catalog.seller["id"],
        {
            "subscription_id": subscription_id,
            "customer_id": invoice.customer_id,
            "product_ids": [catalog.news["id"]],
            "effective": invoice.period.start.isoformat(),
            "reason": "payment",
        },
    )
    assert services.access.check(invoice.customer_id, catalog.news["id"]).valid_until == invoice.period.end


Change = Callable[[Services, str, Catalog], object]
CHANGES: dict[str, Change] = {
    "change": lambda services, sub, catalog: services.change_subscription.change(sub, None, 2, StopWhen.NOW),
    "pause": lambda services, sub, catalog: services.pause_subscription.pause(sub, date(2027, 2, 1), None),
    "stop": lambda services, sub, catalog: services.stop_subscription.stop(sub, StopWhen.NOW, None),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_change_that_loses_its_transaction_records_no_event(
    name: str, http: Http, services: Services, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = order(http, catalog.invoice_offer)
    subscription_id = placed["subscription_id"]
    before = recorded_events()
    commit = services.documents.write

    def another_writer_first(*args: Any, **kwargs: Any) -> None:
        # Someone else writes the subscription between the change's read and its transaction
        item = services.documents.get(keys.subscription(subscription_id).pk, "SUB")
        assert item is not None
        version = int(item.version)
        commit([], [(subscription_item(item.document(Subscription), version), version)])
        commit(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(services.documents, "write", another_writer_first)
        with pytest.raises(ConflictError):
            CHANGES[name](services, subscription_id, catalog)
    assert recorded_events() == before
    assert subscription(services, subscription_id).status is SubscriptionStatus.ACTIVE
