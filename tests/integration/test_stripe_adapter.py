"""The Stripe card adapter against localstripe behind our shim: saved cards, off-session charges with
idempotent replays, authentication and declines handed back with a link, refunds, an unreachable API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests
import stripe
from pydantic import SecretStr

from chalicelib.money import Currency, Money
from chalicelib.payments.errors import ProviderRejectedError, ProviderUnavailableError
from chalicelib.payments.interface import (
    AgreementRequest,
    AgreementStatus,
    ChargeStatus,
    InvoiceCharge,
    PeriodUnit,
)
from chalicelib.payments.stripe_api import StripeChargeResult
from chalicelib.payments.stripe_card import StripeCardAdapter
from chalicelib.settings import StripeSettings
from infra.simulators.stripe import StripeSimulator
from tests.support.aws import free_port

SECRET_KEY = "sk_test_abo_integration"
PAGE = "https://abo.example/pay/card"
NOK = Currency.NOK


def nok(amount: int) -> Money:
    return Money(amount, NOK)


def invoice(invoice_id: str, amount: int) -> InvoiceCharge:
    return InvoiceCharge(
        invoice_id=invoice_id, amount=nok(amount), description=f"Invoice {invoice_id}", due=date(2027, 2, 1)
    )


@pytest.fixture(scope="module")
def simulator() -> Iterator[StripeSimulator]:
    simulator = StripeSimulator(secret_key=SECRET_KEY)
    simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def settings(simulator: StripeSimulator) -> StripeSettings:
    return StripeSettings(
        api_base=simulator.base_url,
        secret_key=SecretStr(SECRET_KEY),
        webhook_secret=SecretStr("whsec_test"),
        publishable_key="pk_test_abo",
        payment_page_url=PAGE,
        max_network_retries=0,
        timeout_seconds=10,
    )


@pytest.fixture
def client(settings: StripeSettings) -> stripe.StripeClient:
    """Our own view of the provider, to check what the adapter left there and to play the customer."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": settings.api_base}, max_network_retries=0)


@pytest.fixture
def adapter(settings: StripeSettings) -> StripeCardAdapter:
    return StripeCardAdapter(settings)


def request(agreement_id: str, first_amount: int) -> AgreementRequest:
    return AgreementRequest(
        agreement_id=agreement_id,
        product_name="Avisa Nordland digital",
        price=nok(12900),
        interval_unit=PeriodUnit.MONTH,
        interval_count=1,
        first_invoice=invoice(f"inv_{agreement_id}_1", first_amount),
    )


def customer_with_saved_card(
    adapter: StripeCardAdapter, client: stripe.StripeClient, agreement_id: str
) -> str:
    """The order flow: the customer pays the first invoice on our page (Stripe.js) with a good card."""
    setup = adapter.set_up_agreement(request(agreement_id, 12900))
    # What Stripe.js does on the payment page with the client secret.
    paid = client.v1.payment_intents.confirm(setup.intent_id, {"payment_method": "pm_card_visa"})
    assert paid.status == "succeeded"
    first = adapter.take_first_payment(setup.agreement_ref, invoice(f"inv_{agreement_id}_1", 12900))
    assert first.status == ChargeStatus.PAID
    return setup.agreement_ref


def customer_with_card(adapter: StripeCardAdapter, client: stripe.StripeClient, test_card: str) -> str:
    """A customer whose saved card is one of Stripe's test cards."""
    customer = client.v1.customers.create({"description": test_card})
    method = client.v1.payment_methods.attach(test_card, {"customer": customer.id})
    adapter.make_default(customer.id, method.id)
    return customer.id


def intents_of(client: stripe.StripeClient, customer_id: str, invoice_id: str) -> list[str]:
    listed = client.v1.payment_intents.list({"customer": customer_id})
    return [
        pi.id for pi in listed.auto_paging_iter() if pi.metadata.to_dict().get("invoice_id") == invoice_id
    ]


def test_setting_up_creates_a_customer_and_a_first_payment_that_saves_the_card(
    adapter: StripeCardAdapter, client: stripe.StripeClient
) -> None:
    setup = adapter.set_up_agreement(request("agr_setup", 12900))

    assert setup.agreement_ref.startswith("cus_")
    assert setup.status == AgreementStatus.PENDING
    assert setup.first_charge_ref == setup.intent_id
    assert setup.intent_id.startswith("pi_")
    assert setup.confirmation_url == f"{PAGE}/{setup.intent_id}"
    assert setup.client_secret.startswith(f"{setup.intent_id}_secret_")
    assert setup.client_secret not in setup.confirmation_url
    assert adapter.client_secret(setup.intent_id) == setup.client_secret
    intent = client.v1.payment_intents.retrieve(setup.intent_id).to_dict()
    assert (intent["amount"], intent["currency"], intent["customer"]) == (12900, "nok", setup.agreement_ref)
    assert intent["setup_future_usage"] == "off_session"
    assert intent["metadata"] == {"agreement_id": "agr_setup", "invoice_id": "inv_agr_setup_1"}
    assert adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.PENDING
    pending = adapter.take_first_payment(setup.agreement_ref, invoice("inv_agr_setup_1", 12900))
    assert (pending.status, pending.provider_status) == (ChargeStatus.PENDING, "requires_payment_method")

    # Setting up again (a retried order) replays the same customer and intent.
    again = adapter.set_up_agreement(request("agr_setup", 12900))
    assert (again.agreement_ref, again.intent_id) == (setup.agreement_ref, setup.intent_id)

    client.v1.payment_intents.confirm(setup.intent_id, {"payment_method": "pm_card_visa"})
    first = adapter.take_first_payment(setup.agreement_ref, invoice("inv_agr_setup_1", 12900))
    assert (first.charge_ref, first.status, first.amount, first.captured) == (
        setup.intent_id,
        ChargeStatus.PAID,
        nok(12900),
        nok(12900),
    )
    assert adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.ACTIVE
    customer = client.v1.customers.retrieve(setup.agreement_ref).to_dict()
    saved = customer["invoice_settings"]["default_payment_method"]
    assert saved.startswith("pm_")
    assert client.v1.payment_methods.retrieve(saved).customer == setup.agreement_ref


def test_a_free_first_invoice_saves_the_card_through_a_setup_intent(
    adapter: StripeCardAdapter, client: stripe.StripeClient
) -> None:
    setup = adapter.set_up_agreement(request("agr_trial", 0))
    assert setup.intent_id.startswith("seti_")
    assert setup.first_charge_ref is None
    assert setup.confirmation_url == f"{PAGE}/{setup.intent_id}"
    assert adapter.client_secret(setup.intent_id) == setup.client_secret

    client.v1.setup_intents.confirm(setup.intent_id, {"payment_method": "pm_card_visa"})
    assert adapter.agreement_status(setup.agreement_ref).status == AgreementStatus.ACTIVE
    charged = adapter.charge_invoice(setup.agreement_ref, invoice("inv_trial_2", 12900))
    assert charged.status == ChargeStatus.PAID


def test_three_invoices_are_charged_off_session(
    adapter: StripeCardAdapter, client: stripe.StripeClient
) -> None:
    customer = customer_with_saved_card(adapter, client, "agr_three")
    results = [adapter.charge_invoice(customer, invoice(f"inv_three_{n}", 12900 + n)) for n in (2, 3, 4)]

    assert [(r.status, r.provider_status, r.amount, r.captured) for r in results] == [
        (ChargeStatus.PAID, "succeeded", nok(12902), nok(12902)),
        (ChargeStatus.PAID, "succeeded", nok(12903), nok(12903)),
        (ChargeStatus.PAID, "succeeded", nok(12904), nok(12904)),
    ]
    assert len({r.charge_ref for r in results}) == 3
    assert all(r.failure_reason is None and r.customer_action_url is None for r in results)
    for n, result in zip((2, 3, 4), results, strict=True):
        intent = client.v1.payment_intents.retrieve(result.charge_ref).to_dict()
        assert intent["metadata"] == {"invoice_id": f"inv_three_{n}"}
        assert intent["customer"] == customer
        assert adapter.charge_status(customer, result.charge_ref) == result


def test_a_replayed_charge_returns_the_same_payment_intent_and_charges_once(
    adapter: StripeCardAdapter, client: stripe.StripeClient, simulator: StripeSimulator
) -> None:
    customer = customer_with_saved_card(adapter, client, "agr_replay")
    first = adapter.charge_invoice(customer, invoice("inv_replay_2", 9900))
    again = adapter.charge_invoice(customer, invoice("inv_replay_2", 9900))

    assert first == again
    assert intents_of(client, customer, "inv_replay_2") == [first.charge_ref]
    charges = client.v1.charges.list({"customer": customer}).data
    assert [c.amount for c in charges if c.payment_intent == first.charge_ref] == [9900]

    # The same key with other parameters is Stripe's idempotency error; the adapter then reports the
    # invoice's existing PaymentIntent instead of charging again.
    changed = adapter.charge_invoice(customer, invoice("inv_replay_2", 100))
    assert (changed.charge_ref, changed.amount) == (first.charge_ref, nok(9900))
    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create(
            {"amount": 100, "currency": "nok", "customer": customer},
            {"idempotency_key": "charge-inv_replay_2"},
        )


def test_a_card_needing_authentication_asks_the_customer_to_pay_on_session(
    adapter: StripeCardAdapter, client: stripe.StripeClient, settings: StripeSettings
) -> None:
    customer = customer_with_card(adapter, client, "pm_card_authenticationRequired")
    result = adapter.charge_invoice(customer, invoice("inv_auth_1", 12900))

    assert isinstance(result, StripeChargeResult)
    assert result.charge_ref.startswith("pi_")
    assert (result.status, result.provider_status) == (ChargeStatus.FAILED, "requires_payment_method")
    assert (result.failure_reason, result.decline_code) == (
        "authentication_required",
        "authentication_required",
    )
    assert result.customer_action_url == f"{PAGE}/{result.charge_ref}"
    assert adapter.charge_status(customer, result.charge_ref) == result
    assert adapter.charge_invoice(customer, invoice("inv_auth_1", 12900)) == result

    # On our page the customer confirms the same PaymentIntent on session and passes 3-D Secure.
    card = adapter.saved_card(customer)
    assert card is not None
    pending = client.v1.payment_intents.confirm(result.charge_ref, {"payment_method": card})
    assert pending.status == "requires_action"
    assert adapter.charge_status(customer, result.charge_ref).status == ChargeStatus.PENDING
    authenticated = requests.post(
        f"{settings.api_base}/v1/payment_intents/{result.charge_ref}/_authenticate",
        data={"client_secret": adapter.client_secret(result.charge_ref), "success": "true"},
        headers={"Authorization": f"Bearer {SECRET_KEY}"},
        timeout=10,
    )
    assert authenticated.status_code == 200
    paid = adapter.charge_status(customer, result.charge_ref)
    assert (paid.status, paid.captured, paid.customer_action_url) == (ChargeStatus.PAID, nok(12900), None)


def test_a_declined_card_gives_a_declined_result_with_the_decline_code(
    adapter: StripeCardAdapter, client: stripe.StripeClient
) -> None:
    customer = customer_with_card(adapter, client, "pm_card_chargeCustomerFail")
    result = adapter.charge_invoice(customer, invoice("inv_declined_1", 12900))

    assert (result.status, result.provider_status) == (ChargeStatus.FAILED, "requires_payment_method")
    assert (result.failure_reason, result.decline_code) == ("card_declined", "generic_decline")
    assert result.customer_action_url == f"{PAGE}/{result.charge_ref}"
    assert result.captured is None
    # The decline is replayed for the same key, not retried.
    assert adapter.charge_invoice(customer, invoice("inv_declined_1", 12900)) == result
    assert intents_of(client, customer, "inv_declined_1") == [result.charge_ref]


def test_the_documented_declining_test_card_declines_and_the_visa_succeeds(
    client: stripe.StripeClient,
) -> None:
    customer = client.v1.customers.create({"description": "test cards"}).id
    ok = client.v1.payment_intents.create(
        {
            "amount": 500,
            "currency": "nok",
            "customer": customer,
            "payment_method": "pm_card_visa",
            "confirm": True,
        }
    )
    assert ok.status == "succeeded"
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(
            {
                "amount": 500,
                "currency": "nok",
                "customer": customer,
                "payment_method": "pm_card_chargeDeclined",
                "confirm": True,
                "off_session": True,
            }
        )
    body = declined.value.json_body
    assert isinstance(body, dict)
    assert (body["error"]["type"], body["error"]["code"], body["error"]["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert body["error"]["payment_intent"]["status"] == "requires_payment_method"


def test_part_of_a_charge_is_refunded_once_per_credit_note(
    adapter: StripeCardAdapter, client: stripe.StripeClient
) -> None:
    customer = customer_with_saved_card(adapter, client, "agr_refund")
    charge = adapter.charge_invoice(customer, invoice("inv_refund_2", 12900))

    refund = adapter.refund(customer, charge.charge_ref, nok(5000), "Credit note 7", "cn_7")
    assert refund.refund_ref.startswith("re_")
    assert (refund.charge_ref, refund.amount, refund.status) == (
        charge.charge_ref,
        nok(5000),
        ChargeStatus.PARTIALLY_REFUNDED,
    )
    assert adapter.refund(customer, charge.charge_ref, nok(5000), "Credit note 7", "cn_7") == refund
    after = adapter.charge_status(customer, charge.charge_ref)
    assert (after.status, after.captured, after.refunded) == (
        ChargeStatus.PARTIALLY_REFUNDED,
        nok(12900),
        nok(5000),
    )
    refunds = client.v1.refunds.list({"payment_intent": charge.charge_ref}).data
    assert [r.amount for r in refunds] == [5000]

    rest = adapter.refund(customer, charge.charge_ref, nok(7900), "Credit note 8", "cn_8")
    assert rest.status == ChargeStatus.REFUNDED
    assert adapter.charge_status(customer, charge.charge_ref).refunded == nok(12900)


def test_cancelling_the_agreement_detaches_the_card(
    adapter: StripeCardAdapter, client: stripe.StripeClient
) -> None:
    customer = customer_with_saved_card(adapter, client, "agr_cancel")
    open_intent = client.v1.payment_intents.create({"amount": 100, "currency": "nok", "customer": customer})

    state = adapter.cancel_agreement(customer)

    assert (state.agreement_ref, state.status) == (customer, AgreementStatus.STOPPED)
    assert client.v1.customers.payment_methods.list(customer, {"type": "card"}).data == []
    assert client.v1.payment_intents.retrieve(open_intent.id).status == "canceled"
    with pytest.raises(ProviderRejectedError, match="no saved card"):
        adapter.charge_invoice(customer, invoice("inv_cancel_2", 12900))


def test_an_unknown_intent_is_a_rejection(adapter: StripeCardAdapter) -> None:
    with pytest.raises(ProviderRejectedError) as raised:
        adapter.charge_status("cus_nobody", "pi_nothing")
    assert (raised.value.provider, raised.value.http_status) == ("stripe", 404)


def test_an_unreachable_server_is_provider_unavailable(settings: StripeSettings) -> None:
    down = settings.model_copy(update={"api_base": f"http://127.0.0.1:{free_port()}", "timeout_seconds": 2})
    adapter = StripeCardAdapter(down)
    with pytest.raises(ProviderUnavailableError) as raised:
        adapter.set_up_agreement(request("agr_down", 12900))
    assert raised.value.provider == "stripe"
    assert raised.value.status == 503
    with pytest.raises(ProviderUnavailableError):
        adapter.charge_invoice("cus_down", invoice("inv_down_1", 100))
