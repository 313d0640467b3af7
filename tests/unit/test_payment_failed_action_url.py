"""A failed card charge the customer must confirm (``authentication_required``) links to our payment page
in every language; without the link the message is exactly the reviewed snapshot."""

from __future__ import annotations

import pytest

from chalicelib.money import Currency, Money
from chalicelib.notifications.render import MessageKind, render

URL = "https://abo.example/pay/card/pi_3Abc123"
SENTENCE = {
    "nb": "Banken din ber deg bekrefte betalingen. Bekreft den her: ",
    "sv": "Din bank vill att du bekräftar betalningen. Bekräfta den här: ",
    "da": "Din bank beder dig bekræfte betalingen. Bekræft den her: ",
    "en": "Your bank asks you to confirm the payment. Confirm it here: ",
}


def context(**extra: object) -> dict[str, object]:
    return {
        "customer_name": "Kari Nordmann",
        "seller_name": "Avishuset AS",
        "invoice_number": "20270042",
        "amount": Money(34_900, Currency.NOK),
        "next_attempt": None,
        **extra,
    }


@pytest.mark.parametrize("language", sorted(SENTENCE))
def test_the_action_url_is_shown_as_text_link_and_in_the_sms(language: str) -> None:
    with_link = render(MessageKind.PAYMENT_FAILED, language, context(action_url=URL))
    without = render(MessageKind.PAYMENT_FAILED, language, context())

    assert f"\n\n{SENTENCE[language]}{URL}\n\n" in with_link.text
    assert with_link.text.replace(f"\n{SENTENCE[language]}{URL}\n", "") == without.text
    assert f'<a href="{URL}">{URL}</a>' in with_link.html
    assert URL in with_link.sms and URL not in without.sms
    assert len(with_link.sms) <= 306
    assert with_link.subject == without.subject


@pytest.mark.parametrize("language", sorted(SENTENCE))
def test_an_empty_action_url_shows_nothing(language: str) -> None:
    assert render(MessageKind.PAYMENT_FAILED, language, context(action_url=None)) == render(
        MessageKind.PAYMENT_FAILED, language, context()
    )
