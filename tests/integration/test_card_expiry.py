"""The card-expiry job against moto and the Stripe simulator: card payers charged by the charging job on
15 January 2027, with cards expiring in January and February 2027 (and 2030). Each customer whose card
expires is told once, by e-mail in their language, in the expiry month; reruns the same day, the next day
and the next month send nothing more; a card not expiring, an opted-out customer, a replaced card, a
stopped agreement and an ending subscription get nothing; each card costs one Stripe request a month.
A card saved without a payment (a free first invoice, a SetupIntent) is watched from the activation of
its agreement, whose transaction writes its item: it is told in its expiry month, before any charge."""

from __future__ import annotations

import email
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from chalicelib.billing.models import DatePeriod
from chalicelib.clock import FixedClock
from chalicelib.container import Services, set_services
from chalicelib.customers.models import Customer
from chalicelib.flows.card_expiry import CardExpiryReport, CardExpiryService
from chalicelib.jobs.invocation import invoke_handler
from chalicelib.jobs.runner import scheduled_event
from chalicelib.jobs.template import ScheduleWiring
from chalicelib.ledger.models import IncomingMethod, Payment, PaymentStatus
from chalicelib.money import Currency, Money
from chalicelib.payments.card_expiry import (
    CardExpiryRecord,
    CardOnFile,
    card_keys,
    expiry_month,
    record_item,
)
from chalicelib.payments.interface import AgreementRequest, InvoiceCharge, PeriodUnit
from chalicelib.payments.records import PaymentSetup, SetupState, setup_item, setup_keys
from chalicelib.store import keys
from chalicelib.store.documents import document_item
from chalicelib.subscriptions.models import (
    AgreementStatus,
    PaymentAgreement,
    Subscription,
    SubscriptionStatus,
)
from chalicelib.subscriptions.writes import subscription_item
from chalicelib.values import PaymentMethod
from infra.awscalls import AwsCallCounter, count_aws_requests
from infra.local.resources import LocalResources
from tests.conftest import make_settings
from tests.support.aws import free_port
from tests.support.ledger import seed_customer, seed_seller
from tests.support.payment_world import (
    AMOUNT,
    DUE,
    SELLER,
    Payer,
    Simulators,
    agreement_world,
    bind,
    seed_payer,
    simulators,
    with_providers,
)

CHARGED_AT = datetime(2027, 1, 15, 6, tzinfo=UTC)  # the charging job runs at 05:00 UTC
CARD_EXPIRY = ScheduleWiring(
    "Daily", "CardExpiryFunction", "functions.card_expiry.handler", "cron(0 8 * * ? *)", "every"
)


@pytest.fixture(scope="module")
def sims() -> Iterator[Simulators]:
    with simulators() as running:
        yield running


@pytest.fixture
def world(aws: LocalResources, sims: Simulators, tmp_path: Path) -> Iterator[Services]:
    settings = with_providers(make_settings(aws, notification_outbox_dir=str(tmp_path / "outbox")), sims)
    services = bind(settings)
    services.clock = FixedClock(CHARGED_AT)
    services.ses.verify_email_identity(EmailAddress=settings.notification_from_address)
    yield services
    set_services(None)


def set_clock(services: Services, day: date) -> None:
    clock = services.clock
    assert isinstance(clock, FixedClock)
    clock.instant = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


def card_payer(
    services: Services, sims: Simulators, number: int, expiry: tuple[int, int] | None, **customer: Any
) -> Payer:
    """A card payer whose default card expires ``(month, year)`` (None: ``pm_card_visa``, 12/2030)."""
    payer = seed_payer(services, sims, PaymentMethod.CARD, number, due=DUE)
    if expiry is not None:
        replace_card(services, sims, payer, "5555555555554444", expiry)
    if customer:
        customer_keys = keys.customer(f"cus_pw_{number}")
        item = services.documents.get(customer_keys.pk, customer_keys.sk)
        assert item is not None
        changed = item.document(Customer).model_copy(update=customer)
        services.documents.write([], [(document_item("customer", customer_keys, changed), int(item.version))])
    return payer


def replace_card(
    services: Services, sims: Simulators, payer: Payer, number: str, expiry: tuple[int, int]
) -> None:
    """The customer saves another card at Stripe, which becomes the default."""
    month, year = expiry
    method = sims.stripe_client.v1.payment_methods.create(
        {"type": "card", "card": {"number": number, "exp_month": month, "exp_year": year, "cvc": "123"}}
    )
    services.stripe_cards.make_default(payer.agreement_ref, method.id)


@dataclass(frozen=True)
class TrialPayer:
    """A card payer with a pending agreement and no invoice to charge yet."""

    agreement_id: str
    agreement_ref: str


def trial_payer(
    services: Services, sims: Simulators, number: int, expiry: tuple[int, int], language: str = "nb"
) -> TrialPayer:
    """A card payer whose free first invoice saved the card (expiring ``(month, year)``) through a
    SetupIntent: the card is at Stripe (not the customer's default), our set-up, agreement and
    subscription are pending, and nothing was ever charged."""
    if services.documents.get(keys.legal_entity(SELLER).pk, "ENTITY") is None:
        seed_seller(services, SELLER)
    customer = seed_customer(services, f"cus_pw_{number}", 10_000 + number, language=language)
    agreement_id, first_invoice = f"agr_pw_{number}", f"inv_pw_first_{number}"
    free = InvoiceCharge(first_invoice, Money(0, Currency.NOK), "Prøveperiode", date(2027, 1, 14))
    request = AgreementRequest(
        agreement_id, "Nordavisa digital", Money(AMOUNT, Currency.NOK), PeriodUnit.MONTH, 1, free
    )
    at_stripe = services.stripe_cards.set_up_agreement(request)
    assert at_stripe.intent_id.startswith("seti_")
    month, year = expiry
    card = sims.stripe_client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "5555555555554444", "exp_month": month, "exp_year": year, "cvc": "123"},
        }
    )
    sims.stripe_client.v1.setup_intents.confirm(at_stripe.intent_id, {"payment_method": card.id})
    ref = at_stripe.agreement_ref
    _, pending = agreement_world(
        customer,
        PaymentMethod.CARD,
        number,
        ref,
        active=False,
        start=date(2027, 1, 14),
        invoiced=DatePeriod(start=date(2027, 1, 14), end=date(2027, 4, 14)),
    )
    services.documents.write(pending, [])
    return TrialPayer(agreement_id, ref)


def charge(services: Services, payers: list[Payer]) -> None:
    """The charging job of 15 January: every card invoice paid, one ledger payment each."""
    report = services.payment_flows.charging.charge_due(DUE)
    assert sorted(report.charged) == sorted(p.invoice.id for p in payers)
    for payer in payers:
        record = services.payments.charge(payer.invoice.id)
        assert record is not None and record[0].state == "paid"


def stripe_requests(sims: Simulators) -> list[tuple[str, str]]:
    """Every request the Stripe simulator has had, in order."""
    assert sims.stripe.shim is not None
    return sims.stripe.shim.requests_seen


def run(services: Services, sims: Simulators, day: date) -> tuple[CardExpiryReport, list[tuple[str, str]]]:
    """One run of the job on ``day``, with the Stripe requests it made."""
    set_clock(services, day)
    mark = len(stripe_requests(sims))
    report = services.card_expiry.run(day)
    return report, stripe_requests(sims)[mark:]


def outbox(services: Services) -> list[EmailMessage]:
    folder = Path(services.settings.notification_outbox_dir)
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    messages = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def stored(services: Services, agreement_id: str) -> CardExpiryRecord:
    found = services.documents.get_document(card_keys(agreement_id).pk, "CARD", CardExpiryRecord)
    assert found is not None
    return found


def test_each_expiring_card_is_told_once_in_its_month_in_the_customers_language(
    world: Services, sims: Simulators
) -> None:
    services = world
    january = card_payer(services, sims, 1, (1, 2027), language="en")
    opted_out = card_payer(services, sims, 2, (1, 2027), language="sv", email_opt_out=True)
    not_expiring = card_payer(services, sims, 3, None)
    february = card_payer(services, sims, 4, (2, 2027), language="da")
    charge(services, [january, opted_out, not_expiring, february])

    # The day of the charges: four card payments, each card fetched once (one request each), one e-mail.
    report, requests = run(services, sims, date(2027, 1, 15))
    assert (report.card_payments, report.cards_fetched, report.interrupted) == (4, 4, None)
    assert report.sent == ["card-expiring:agr_pw_1:2027-01"]
    assert report.not_sent == {"opted_out": 1}
    assert sorted(requests) == sorted(
        ("GET", f"/v1/customers/{p.agreement_ref}") for p in (january, opted_out, not_expiring, february)
    )
    [told] = outbox(services)
    assert told["To"] == "kunde10001@example.no"
    assert told["Subject"] == "Your card expires soon"
    text = text_of(told)
    assert (
        "The card ending in 4444 that you use to pay for your subscription expires in January 2027." in text
    )
    assert "https://abo.example/my/card?agreement=agr_pw_1&lang=en" in text
    far = stored(services, "agr_pw_3").card  # localstripe's pm_card_visa: 12/2030
    assert far is not None and expiry_month(far) == "2030-12"

    # Again the same day, and the next day: nothing sent, nothing asked of Stripe.
    for day in (date(2027, 1, 15), date(2027, 1, 16)):
        report, requests = run(services, sims, day)
        assert (report.sent, report.cards_fetched, report.due, requests) == ([], 0, 0, [])
    assert len(outbox(services)) == 1

    # 1 February, through the Lambda handler: the February card is fetched again and told, in Danish.
    moment = datetime(2027, 2, 1, 8, tzinfo=UTC)
    set_clock(services, moment.date())
    mark = len(stripe_requests(sims))
    summary = invoke_handler(
        CARD_EXPIRY.handler,
        scheduled_event(CARD_EXPIRY, moment, "eu-north-1", "123456789012"),
        CARD_EXPIRY.function,
    )
    assert summary["sent"] == ["card-expiring:agr_pw_4:2027-02"]
    assert stripe_requests(sims)[mark:] == [("GET", f"/v1/customers/{february.agreement_ref}")]
    danish = outbox(services)[-1]
    assert danish["To"] == "kunde10004@example.no"
    assert "udløber i februar 2027" in text_of(danish)
    assert "lang=da" in text_of(danish)

    # The rest of February and March: nothing more.
    for day in (date(2027, 2, 1), date(2027, 2, 2), date(2027, 3, 1)):
        report, requests = run(services, sims, day)
        assert (report.sent, report.cards_fetched, requests) == ([], 0, [])
    assert len(outbox(services)) == 2
    assert stored(services, "agr_pw_1").outcome == "sent"
    assert stored(services, "agr_pw_2").outcome == "opted_out"
    assert stored(services, "agr_pw_4").handled_month == "2027-02"


def test_a_replaced_card_a_stopped_agreement_and_an_ending_subscription_are_not_told(
    world: Services, sims: Simulators
) -> None:
    services = world
    replaced = card_payer(services, sims, 11, (2, 2027))
    stopped = card_payer(services, sims, 12, (2, 2027))
    ending = card_payer(services, sims, 13, (2, 2027))
    charge(services, [replaced, stopped, ending])
    report, _ = run(services, sims, date(2027, 1, 15))
    assert (report.cards_fetched, report.sent) == (3, [])

    # In January: the first customer saves a new card; the second agreement is stopped; the third
    # subscription is stopped at the end of January.
    replace_card(services, sims, replaced, "4242424242424242", (9, 2029))
    item = services.documents.get(setup_keys(stopped.agreement_id).pk, "SETUP")
    assert item is not None
    setup = item.document(PaymentSetup).model_copy(update={"state": SetupState.STOPPED})
    services.documents.write([], [(setup_item(setup, int(item.version)), int(item.version))])
    sub = services.documents.get(keys.subscription("sub_pw_13").pk, "SUB")
    assert sub is not None
    ends = sub.document(Subscription).model_copy(update={"ends_on": date(2027, 2, 1)})
    services.documents.write([], [(subscription_item(ends, int(sub.version)), int(sub.version))])

    report, requests = run(services, sims, date(2027, 2, 1))
    assert report.sent == []
    assert report.not_sent == {"agreement_ended": 1, "card_replaced": 1, "no_renewal": 1}
    # Only the card still to be told is fetched again; the others are settled from our own records.
    assert requests == [("GET", f"/v1/customers/{replaced.agreement_ref}")]
    assert outbox(services) == []
    new_card = stored(services, replaced.agreement_id)
    assert new_card.card is not None and (new_card.card.exp_month, new_card.card.exp_year) == (9, 2029)
    listed = services.documents.get(card_keys(replaced.agreement_id).pk, "CARD")
    assert listed is not None and listed.gsi1pk == "CARDEXP#2029-09"


def test_an_unreachable_stripe_ends_the_run_early_and_the_next_run_tells(
    world: Services, sims: Simulators, aws: LocalResources
) -> None:
    services = world
    payer = card_payer(services, sims, 21, (1, 2027), language="nb")
    charge(services, [payer])
    settings = services.settings
    down = settings.model_copy(
        update={
            "stripe": settings.stripe.model_copy(
                update={
                    "api_base": f"http://127.0.0.1:{free_port()}",
                    "secret_key": SecretStr("sk_test_down"),
                }
            )
        }
    )
    outage = bind(down)
    outage.clock = FixedClock(datetime(2027, 1, 15, 8, tzinfo=UTC))
    report = outage.card_expiry.run(date(2027, 1, 15))
    assert report.interrupted is not None and report.sent == []
    assert outbox(services) == []

    set_services(services)
    report, _ = run(services, sims, date(2027, 1, 17))  # the 15th is still within the run's look-back
    assert report.sent == [f"card-expiring:{payer.agreement_id}:2027-01"]
    [told] = outbox(services)
    assert told["Subject"] == "Kortet ditt utløper snart"


def test_the_payments_of_the_last_three_days_are_read_across_a_month_boundary(services: Services) -> None:
    days = [date(2027, 1, 29), date(2027, 1, 30), date(2027, 1, 31), date(2027, 2, 1), date(2027, 2, 2)]
    for number, day in enumerate(days):
        payment = Payment(
            id=f"pay_{number}",
            source="stripe",
            source_reference=f"pi_{number}",
            method=IncomingMethod.CARD,
            status=PaymentStatus.MATCHED,
            amount=100,
            currency=Currency.NOK,
            paid_on=day,
            received_at=CHARGED_AT,
        )
        services.documents.put_new(document_item("payment", keys.payment(payment.id, day), payment))
    read = CardExpiryService._payments(date(2027, 1, 30), date(2027, 2, 1))
    assert [payment.paid_on for payment in read] == days[1:4]


def test_a_refused_message_holds_up_no_one_and_is_sent_by_the_next_run(
    world: Services, sims: Simulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = world
    refused, other = card_payer(services, sims, 31, (1, 2027)), card_payer(services, sims, 32, (1, 2027))
    charge(services, [refused, other])
    sender = services.notifications
    real_send = sender.send

    def send(**kwargs: Any) -> Any:
        if kwargs["message_key"].startswith(f"card-expiring:{refused.agreement_id}:"):
            raise RuntimeError("injected: SES refused the address")
        return real_send(**kwargs)

    monkeypatch.setattr(sender, "send", send)
    report, _ = run(services, sims, date(2027, 1, 15))
    assert report.sent == [f"card-expiring:{other.agreement_id}:2027-01"]
    assert report.not_sent == {"send_failed": 1}

    monkeypatch.setattr(sender, "send", real_send)
    report, requests = run(services, sims, date(2027, 1, 16))
    assert report.sent == [f"card-expiring:{refused.agreement_id}:2027-01"]
    assert requests == [("GET", f"/v1/customers/{refused.agreement_ref}")]  # checked again on the day it goes
    assert len(outbox(services)) == 2


def test_the_adapter_reads_the_card_it_would_charge(world: Services, sims: Simulators) -> None:
    adapter, client = world.stripe_cards, sims.stripe_client
    customer = client.v1.customers.create({"description": "no default card"})
    assert adapter.card_details(customer.id) is None
    older = client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 5, "exp_year": 2028, "cvc": "123"},
        }
    )
    newer = client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": "5555555555554444", "exp_month": 7, "exp_year": 2029, "cvc": "123"},
        }
    )
    client.v1.payment_methods.attach(older.id, {"customer": customer.id})
    client.v1.payment_methods.attach(newer.id, {"customer": customer.id})

    # Without a default card: the newest saved card, as the charge would take it (two requests).
    mark = len(stripe_requests(sims))
    found = adapter.card_details(customer.id)
    assert found is not None and found.payment_method_id == adapter.saved_card(customer.id)
    assert stripe_requests(sims)[mark : mark + 2] == [
        ("GET", f"/v1/customers/{customer.id}"),
        ("GET", f"/v1/customers/{customer.id}/payment_methods"),
    ]

    # With a default card: that one, in one request.
    adapter.make_default(customer.id, older.id)
    mark = len(stripe_requests(sims))
    found = adapter.card_details(customer.id)
    assert found is not None
    assert (found.payment_method_id, found.last4, found.exp_month, found.exp_year) == (
        older.id,
        "4242",
        5,
        2028,
    )
    assert stripe_requests(sims)[mark:] == [("GET", f"/v1/customers/{customer.id}")]

    # A stopped agreement has no card.
    adapter.cancel_agreement(customer.id)
    assert adapter.card_details(customer.id) is None


def activate(services: Services, payer: TrialPayer, day: date) -> None:
    """Stripe reports the saved card on ``day``: the agreement becomes active (as a webhook or the polling
    job would have it); the free first invoice has no charge to take."""
    set_clock(services, day)
    setup = services.payment_flows.reconcile.reconcile_setup(payer.agreement_id)
    assert setup is not None and setup.state == SetupState.ACTIVE


def dynamodb_requests(counter: AwsCallCounter) -> Counter[str]:
    return Counter({name: n for name, n in counter.by_operation().items() if name.startswith("dynamodb.")})


def test_a_card_saved_without_a_payment_is_told_once_in_its_expiry_month(
    world: Services, sims: Simulators
) -> None:
    services = world
    january = trial_payer(services, sims, 41, (1, 2027), language="en")
    february = trial_payer(services, sims, 42, (2, 2027))
    for payer in (january, february):
        activate(services, payer, date(2027, 1, 14))

    # The activation wrote the card item: no card yet, listed under the day of activation.
    for payer in (january, february):
        item = services.documents.get(card_keys(payer.agreement_id).pk, "CARD")
        assert item is not None
        assert (item.gsi1pk, item.gsi1sk, int(item.version)) == (
            "CARDNEW#2027-01-14",
            payer.agreement_id,
            1,
        )
        record = item.document(CardExpiryRecord)
        assert (record.card, record.checked_on, record.activated_on, record.provider_reference) == (
            None,
            None,
            date(2027, 1, 14),
            payer.agreement_ref,
        )
    subscription = services.documents.get_document(keys.subscription("sub_pw_41").pk, "SUB", Subscription)
    assert subscription is not None and subscription.status == SubscriptionStatus.ACTIVE

    # The next day, with no card payment at all: both new cards are fetched (two requests each: a card
    # saved by a SetupIntent is not the customer's default) and the one expiring in January is told.
    with count_aws_requests() as counter:
        report, requests = run(services, sims, date(2027, 1, 15))
    assert (report.card_payments, report.new_cards, report.cards_fetched) == (0, 2, 2)
    assert (report.sent, report.interrupted) == (["card-expiring:agr_pw_41:2027-01"], None)
    assert sorted(requests) == sorted(
        request
        for payer in (january, february)
        for request in (
            ("GET", f"/v1/customers/{payer.agreement_ref}"),
            ("GET", f"/v1/customers/{payer.agreement_ref}/payment_methods"),
        )
    )
    assert dynamodb_requests(counter) == {
        # the payments of January; the new cards of 13 to 15 January (one query of the due index); the
        # cards expiring in January
        "dynamodb.Query": 3,
        # both set-ups and items; then the told card's item and set-up, and its customer and seller
        "dynamodb.BatchGetItem": 3,
        "dynamodb.GetItem": 1,  # the told card's subscription
        # both items saved with their card; the message claimed and marked sent; the item marked told
        "dynamodb.TransactWriteItems": 5,
    }
    [told] = outbox(services)
    assert told["To"] == "kunde10041@example.no"
    assert "The card ending in 4444" in text_of(told) and "expires in January 2027" in text_of(told)
    assert stored(services, january.agreement_id).outcome == "sent"
    listed = services.documents.get(card_keys(february.agreement_id).pk, "CARD")
    assert listed is not None and (listed.gsi1pk, listed.gsi1sk) == ("CARDEXP#2027-02", february.agreement_id)

    # A replayed activation writes nothing: the item stays as the job left it.
    before = services.documents.get(card_keys(january.agreement_id).pk, "CARD")
    with count_aws_requests() as counter:
        activate(services, january, date(2027, 1, 15))
    assert counter.count("dynamodb", "TransactWriteItems") == 0
    after = services.documents.get(card_keys(january.agreement_id).pk, "CARD")
    assert before is not None and after is not None
    assert (after.version, after.doc, after.gsi1pk) == (before.version, before.doc, before.gsi1pk)

    # The next day: nothing to fetch, nothing to tell, nothing but the three queries.
    with count_aws_requests() as counter:
        report, requests = run(services, sims, date(2027, 1, 16))
    assert (report.new_cards, report.cards_fetched, report.due, report.sent, requests) == (0, 0, 0, [], [])
    assert dynamodb_requests(counter) == {"dynamodb.Query": 3}

    # 1 February: the February card is fetched once more (the customer may have replaced it) and told.
    report, requests = run(services, sims, date(2027, 2, 1))
    assert report.sent == ["card-expiring:agr_pw_42:2027-02"]
    assert requests == [
        ("GET", f"/v1/customers/{february.agreement_ref}"),
        ("GET", f"/v1/customers/{february.agreement_ref}/payment_methods"),
    ]
    for day in (date(2027, 2, 2), date(2027, 3, 1)):
        report, requests = run(services, sims, day)
        assert (report.sent, report.cards_fetched, requests) == ([], 0, [])
    assert [message["To"] for message in outbox(services)] == [
        "kunde10041@example.no",
        "kunde10042@example.no",
    ]


def test_an_activation_keeps_a_card_item_already_there(world: Services, sims: Simulators) -> None:
    services = world
    payer = trial_payer(services, sims, 51, (3, 2027))
    known = CardExpiryRecord(
        agreement_id=payer.agreement_id,
        provider_reference=payer.agreement_ref,
        card=CardOnFile(payment_method_id="pm_known", last4="4444", exp_month=3, exp_year=2027),
        checked_on=date(2027, 1, 10),
        updated_at=datetime(2027, 1, 10, 8, tzinfo=UTC),
    )
    services.documents.put_new(record_item(known))

    # The create of the card item fails; the agreement is activated without it, the item left as it was.
    activate(services, payer, date(2027, 1, 14))
    agreement = services.documents.get_document(
        keys.agreement(payer.agreement_id).pk, "AGREEMENT", PaymentAgreement
    )
    assert agreement is not None and agreement.status == AgreementStatus.ACTIVE
    item = services.documents.get(card_keys(payer.agreement_id).pk, "CARD")
    assert item is not None
    assert (int(item.version), item.gsi1pk, item.document(CardExpiryRecord)) == (1, "CARDEXP#2027-03", known)
