"""When the invoice run has work on a subscription, and when a stop takes effect (subscriptions/writes.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from chalicelib.billing.models import DatePeriod
from chalicelib.subscriptions.models import Phase, Subscription, SubscriptionStatus
from chalicelib.subscriptions.writes import end_due, ended, renewal_index_day, subscription_item
from chalicelib.values import PaymentMethod


def subscription(**changes: Any) -> Subscription:
    fields: dict[str, Any] = {
        "id": "sub_abc",
        "customer_id": "cus_1",
        "customer_number": 10001,
        "legal_entity_id": "le_1",
        "offer_id": "off_1",
        "order_id": "ord_1",
        "product_ids": ["prd_news"],
        "status": SubscriptionStatus.ACTIVE,
        "payment_method": PaymentMethod.INVOICE,
        "agreement_id": "agr_1",
        "currency": "NOK",
        "start_date": date(2027, 3, 1),
        "phases": [Phase(plan_id="pln_1", start=date(2027, 3, 1))],
        "invoiced_period": DatePeriod(start=date(2027, 4, 1), end=date(2027, 5, 1)),
        "next_invoice_date": date(2027, 4, 18),
        "created_at": datetime(2027, 3, 1, tzinfo=UTC),
    }
    return Subscription(**(fields | changes))


def test_a_running_subscription_is_indexed_for_its_next_invoice() -> None:
    assert renewal_index_day(subscription()) == date(2027, 4, 18)
    assert renewal_index_day(subscription(next_invoice_date=None)) is None


def test_a_stopped_subscription_is_indexed_for_its_end_date_until_the_run_ends_it() -> None:
    stopped = subscription(
        status=SubscriptionStatus.STOPPED, ends_on=date(2027, 4, 15), next_invoice_date=None
    )
    assert renewal_index_day(stopped) == date(2027, 4, 15)
    assert subscription_item(stopped).gsi2pk is not None
    # With usage in arrears: the final invoice's day (never before the end)
    assert renewal_index_day(stopped.model_copy(update={"final_invoice_on": date(2027, 4, 16)})) == date(
        2027, 4, 16
    )
    assert not end_due(stopped, date(2027, 4, 14))
    assert end_due(stopped, date(2027, 4, 15))
    assert end_due(stopped, date(2027, 4, 20))  # a late run still ends it
    done = ended(stopped)
    assert done.status is SubscriptionStatus.ENDED
    assert not end_due(done, date(2027, 4, 20))  # ended once
    assert renewal_index_day(done) is None and subscription_item(done).gsi2pk is None
    # An ended subscription whose final invoice is still to come stays indexed for it
    assert renewal_index_day(done.model_copy(update={"final_invoice_on": date(2027, 4, 16)})) == date(
        2027, 4, 16
    )


def test_an_active_subscription_never_ends_by_date() -> None:
    assert not end_due(subscription(ends_on=date(2027, 4, 15)), date(2027, 5, 1))
