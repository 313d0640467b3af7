"""The card-expiry rule: which month a card is told in, when it is fetched again, what is listed where
(the item a card agreement's activation writes included), the days a run reads, which subscriptions still
renew after the card, the message key and the update link; the Stripe card."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.billing.models import DatePeriod
from chalicelib.notifications.render import MessageKind, render
from chalicelib.payments.card_expiry import (
    LOOKBACK_DAYS,
    CardExpiryRecord,
    CardOnFile,
    activation_record,
    card_update_url,
    expires,
    expiry_month,
    first_day_after,
    listed_month,
    lookback,
    message_key,
    month_of,
    needs_check,
    new_card_partition,
    notice_due,
    record_item,
    renews_after,
)
from chalicelib.payments.records import PaymentSetup, SetupState
from chalicelib.payments.stripe_api import SavedCard, saved_card_of
from chalicelib.settings import Settings
from chalicelib.subscriptions.models import Phase, Subscription, SubscriptionStatus
from chalicelib.values import PaymentMethod

AT = datetime(2027, 3, 1, 8, tzinfo=UTC)


def card(month: int, year: int) -> CardOnFile:
    return CardOnFile(payment_method_id="pm_1", brand="visa", last4="4242", exp_month=month, exp_year=year)


def record(on_file: CardOnFile | None, handled: str | None = None) -> CardExpiryRecord:
    return CardExpiryRecord(
        agreement_id="agr_1",
        provider_reference="cus_1",
        card=on_file,
        checked_on=date(2027, 2, 10),
        handled_month=handled,
        updated_at=AT,
    )


def subscription(**changes: Any) -> Subscription:
    base = Subscription(
        id="sub_1",
        customer_id="cus_1",
        customer_number=10001,
        legal_entity_id="ent_1",
        offer_id="off_1",
        order_id="ord_1",
        product_ids=["prd_1"],
        status=SubscriptionStatus.ACTIVE,
        payment_method=PaymentMethod.CARD,
        agreement_id="agr_1",
        currency="NOK",
        start_date=date(2026, 1, 1),
        phases=[Phase(plan_id="pln_1", start=date(2026, 1, 1))],
        invoiced_period=DatePeriod(start=date(2027, 2, 1), end=date(2027, 3, 1)),
        created_at=AT,
    )
    return base.model_copy(update=changes)


def test_months_are_zero_padded_and_expiry_is_the_first_of_its_month() -> None:
    assert month_of(date(2027, 3, 31)) == "2027-03"
    assert expiry_month(card(3, 2027)) == "2027-03"
    assert expires(card(3, 2027)) == date(2027, 3, 1)
    assert first_day_after(card(3, 2027)) == date(2027, 4, 1)
    assert first_day_after(card(12, 2027)) == date(2028, 1, 1)


@pytest.mark.parametrize(
    ("today", "due"),
    [
        (date(2027, 2, 28), False),  # the month before: not yet
        (date(2027, 3, 1), True),  # from the 1st of the expiry month
        (date(2027, 3, 31), True),  # the card's last valid day
        (date(2027, 4, 1), False),  # expired: the failed charge tells the customer
        (date(2026, 3, 15), False),  # the same month a year earlier
    ],
)
def test_a_card_is_told_in_its_expiry_month(today: date, due: bool) -> None:
    assert notice_due(card(3, 2027), today) is due


def test_a_card_is_fetched_at_most_once_per_calendar_month() -> None:
    assert needs_check(None, date(2027, 3, 1))
    assert not needs_check(date(2027, 3, 1), date(2027, 3, 31))
    assert needs_check(date(2027, 2, 28), date(2027, 3, 1))
    assert needs_check(date(2026, 3, 15), date(2027, 3, 15))


def test_a_card_is_listed_under_its_expiry_month_until_told() -> None:
    assert listed_month(record(None)) is None
    assert listed_month(record(card(3, 2027))) == "2027-03"
    assert listed_month(record(card(3, 2027), handled="2027-03")) is None
    # A new card after the customer was told about the old one is listed under its own month.
    assert listed_month(record(card(9, 2030), handled="2027-03")) == "2030-09"

    listed = record_item(record(card(3, 2027)))
    assert (listed.pk, listed.sk, listed.gsi1pk, listed.gsi1sk) == (
        "PAYCARD#agr_1",
        "CARD",
        "CARDEXP#2027-03",
        "agr_1",
    )
    told = record_item(record(card(3, 2027), handled="2027-03"))
    assert told.pk == "PAYCARD#agr_1"
    assert not told.gsi1pk and not told.gsi1sk


def setup(method: PaymentMethod, reference: str | None = "cus_1") -> PaymentSetup:
    return PaymentSetup(
        agreement_id="agr_1",
        method=method,
        provider="stripe" if method == PaymentMethod.CARD else "vipps",
        order_id="ord_1",
        subscription_id="sub_1",
        customer_id="cus_1",
        first_invoice_id="inv_1",
        state=SetupState.ACTIVE,
        provider_reference=reference,
        created_at=AT,
        updated_at=AT,
    )


def test_a_card_agreements_activation_writes_its_item_listed_under_the_local_day() -> None:
    # 23:30 UTC on 14 January is the 15th in Oslo: the business date the job's run of the 15th reads.
    late = datetime(2027, 1, 14, 23, 30, tzinfo=UTC)
    new = activation_record(setup(PaymentMethod.CARD), late)
    assert new == CardExpiryRecord(
        agreement_id="agr_1", provider_reference="cus_1", activated_on=date(2027, 1, 15), updated_at=late
    )
    assert (new.card, new.checked_on, new.handled_month) == (None, None, None)
    assert needs_check(new.checked_on, date(2027, 1, 15))
    assert new_card_partition(date(2027, 1, 15)) == "CARDNEW#2027-01-15"
    item = record_item(new)
    assert (item.pk, item.sk, item.gsi1pk, item.gsi1sk, int(item.version)) == (
        "PAYCARD#agr_1",
        "CARD",
        "CARDNEW#2027-01-15",
        "agr_1",
        1,
    )

    # Once fetched it leaves the day's list: under its card's expiry month, or nowhere without a card.
    fetched = new.model_copy(update={"card": card(3, 2027), "checked_on": date(2027, 1, 15)})
    assert (record_item(fetched).gsi1pk, record_item(fetched).gsi1sk) == ("CARDEXP#2027-03", "agr_1")
    no_card = record_item(new.model_copy(update={"checked_on": date(2027, 1, 15)}))
    assert not no_card.gsi1pk and not no_card.gsi1sk
    # An item written before activations wrote them (no activation day) is not listed until fetched.
    assert not record_item(new.model_copy(update={"activated_on": None})).gsi1pk


def test_only_a_card_agreement_with_a_customer_at_stripe_gets_an_item_on_activation() -> None:
    assert activation_record(setup(PaymentMethod.VIPPS, "agr_vipps_1"), AT) is None
    assert activation_record(setup(PaymentMethod.INVOICE), AT) is None
    assert activation_record(setup(PaymentMethod.CARD, None), AT) is None


def test_a_run_reads_today_and_the_days_before_across_month_and_year_ends() -> None:
    assert LOOKBACK_DAYS == 2
    assert lookback(date(2027, 3, 1)) == [date(2027, 2, 27), date(2027, 2, 28), date(2027, 3, 1)]
    assert lookback(date(2027, 1, 1)) == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)]
    assert lookback(date(2028, 3, 1)) == [date(2028, 2, 28), date(2028, 2, 29), date(2028, 3, 1)]


def test_only_a_subscription_with_days_after_the_expiry_month_is_told() -> None:
    march = card(3, 2027)
    assert renews_after(subscription(), march)
    assert renews_after(subscription(status=SubscriptionStatus.PAUSED), march)
    assert renews_after(subscription(ends_on=date(2027, 4, 2)), march)
    assert not renews_after(subscription(ends_on=date(2027, 4, 1)), march)  # its last day is 31 March
    assert not renews_after(subscription(ends_on=date(2027, 3, 15)), march)
    assert not renews_after(subscription(status=SubscriptionStatus.STOPPED), march)
    assert not renews_after(subscription(status=SubscriptionStatus.ENDED), march)


def test_one_message_key_per_agreement_and_expiry_month() -> None:
    assert message_key("agr_1", "2027-03") == "card-expiring:agr_1:2027-03"


def test_the_update_link_is_filled_in_and_encoded() -> None:
    template = Settings().card_update_url
    assert card_update_url(template, agreement_id="agr_1", customer_id="cus_1", language="nb") == (
        "https://abo.example/my/card?agreement=agr_1&lang=nb"
    )
    assert card_update_url(
        "https://minside.example/{language}/kort/{customer_id}?a={agreement_id}",
        agreement_id="agr 1&x",
        customer_id="cus/1",
        language="sv",
    ) == ("https://minside.example/sv/kort/cus%2F1?a=agr%201%26x")


def test_settings_refuse_an_update_link_with_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="card_update_url"):
        Settings(card_update_url="https://minside.example/{subscription_id}")


@pytest.mark.parametrize(
    ("language", "month"),
    [("nb", "mars 2027"), ("sv", "mars 2027"), ("da", "marts 2027"), ("en", "March 2027")],
)
def test_the_notice_renders_the_expiry_month_in_every_language(language: str, month: str) -> None:
    url = card_update_url(
        Settings().card_update_url, agreement_id="agr_1", customer_id="cus_1", language=language
    )
    message = render(
        MessageKind.CARD_EXPIRING,
        language,
        {
            "customer_name": "Kari Nordmann",
            "seller_name": "Avishuset AS",
            "card_last4": "4242",
            "expires": expires(card(3, 2027)),
            "update_url": url,
        },
    )
    assert month in message.text and "4242" in message.text and url in message.text


def test_a_stripe_card_is_read_without_its_number() -> None:
    method = {
        "id": "pm_1",
        "object": "payment_method",
        "type": "card",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 3, "exp_year": 2027, "fingerprint": "x"},
    }
    assert saved_card_of(method) == SavedCard("pm_1", "visa", "4242", 3, 2027)
    assert saved_card_of({"id": "pm_2", "type": "sepa_debit", "sepa_debit": {"last4": "3000"}}) is None
    assert (
        saved_card_of({"id": "pm_3", "card": {"last4": "4242", "exp_month": "3", "exp_year": 2027}}) is None
    )
