"""Every notification renders in nb, sv, da and en, compared with reviewed snapshots.

Run with ``ABO_UPDATE_SNAPSHOTS=1`` to write the snapshots again, then review the diff before committing.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from chalicelib.money import Currency, Money
from chalicelib.notifications.render import MessageKind, RenderError, render, supported_language

SNAPSHOTS = Path(__file__).parent.parent / "snapshots" / "notifications"
UPDATE = os.environ.get("ABO_UPDATE_SNAPSHOTS") == "1"
CURRENCY = {"nb": Currency.NOK, "sv": Currency.SEK, "da": Currency.DKK, "en": Currency.NOK}
LANGUAGES = tuple(CURRENCY)


def context(language: str) -> dict[str, Any]:
    currency = CURRENCY[language]
    return {
        "customer_name": "Kari Nordmann",
        "seller_name": "Avishuset AS",
        "order_number": "100042",
        "product_name": "Avisen Digital",
        "start_date": date(2027, 1, 15),
        "amount": Money(34_900, currency),
        "invoice_number": "20270042",
        "due_date": date(2027, 1, 31),
        "kid": "0001000420009",
        "account_number": "1503 12 34567",
        "pdf_attached": True,
        "paid_on": date(2027, 1, 29),
        "next_attempt": date(2027, 2, 3),
        "new_due_date": date(2027, 3, 1),
        "fee": Money(3_500, currency),
        "deadline": date(2027, 3, 15),
        "effective_date": date(2027, 2, 1),
        "paused_from": date(2027, 7, 1),
        "resumes_on": date(2027, 8, 1),
        "end_date": date(2027, 1, 31),
        "portal_url": "https://minside.avishuset.no/abonnement",
        "card_last4": "4242",
        "expires": date(2027, 3, 31),
        "update_url": "https://minside.avishuset.no/kort?ref=mail&lang=" + language,
    }


def as_snapshot(kind: MessageKind, language: str) -> str:
    message = render(kind, language, context(language))
    return f"subject: {message.subject}\nsms: {message.sms}\n--- text\n{message.text}--- html\n{message.html}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(MessageKind))
def test_message_matches_its_reviewed_snapshot(kind: MessageKind, language: str) -> None:
    path = SNAPSHOTS / language / f"{kind.value}.txt"
    rendered = as_snapshot(kind, language)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}; run with ABO_UPDATE_SNAPSHOTS=1 and review it"
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", LANGUAGES)
def test_sms_fits_in_two_segments_of_plain_gsm_text(language: str) -> None:
    for kind in MessageKind:
        sms = render(kind, language, context(language)).sms
        assert len(sms) <= 306, kind
        assert "\xa0" not in sms and "\n" not in sms


def test_money_and_dates_follow_the_locale() -> None:
    values = context("nb") | {"amount": Money(123_450, Currency.NOK), "due_date": date(2027, 5, 17)}
    assert "Beløp: 1\xa0234,50\xa0kr" in render(MessageKind.INVOICE_ISSUED, "nb", values).text
    assert "Due date: 17 May 2027" in render(MessageKind.INVOICE_ISSUED, "en", values).text
    swedish = context("sv") | {"amount": Money(123_450, Currency.SEK)}
    assert "Belopp: 1\xa0234,50\xa0kr" in render(MessageKind.INVOICE_ISSUED, "sv", swedish).text
    assert "Förfallodatum: 31 januari 2027" in render(MessageKind.INVOICE_ISSUED, "sv", swedish).text
    danish = context("da") | {"amount": Money(123_450, Currency.DKK)}
    assert "Beløb: 1.234,50\xa0kr." in render(MessageKind.INVOICE_ISSUED, "da", danish).text


def test_html_is_escaped_but_text_is_not() -> None:
    values = context("nb") | {"customer_name": "Ola <script>alert(1)</script> & Co"}
    message = render(MessageKind.PAYMENT_RECEIVED, "nb", values)
    assert "Hei Ola <script>alert(1)</script> & Co," in message.text
    assert "<p>Hei Ola &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co,</p>" in message.html
    assert "<script>" not in message.html


def test_optional_values_may_be_left_out() -> None:
    values = {k: v for k, v in context("nb").items() if k not in ("fee", "kid", "account_number")}
    text = render(MessageKind.REMINDER, "nb", values).text
    assert "Å betale: 349,00\xa0kr\nNy betalingsfrist: 1. mars 2027\n" in text
    assert "purregebyr" not in text and "KID" not in text


def test_missing_values_and_unknown_kinds_are_errors() -> None:
    values = context("nb")
    del values["due_date"]
    with pytest.raises(RenderError, match="invoice_issued needs due_date"):
        render(MessageKind.INVOICE_ISSUED, "nb", values)
    with pytest.raises(RenderError, match="no message kind"):
        render("newsletter", "nb", context("nb"))


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("nb", "nb"),
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("nn", "nb"),
        ("sv_SE", "sv"),
        ("da", "da"),
        ("fi", "en"),
        ("", "en"),
    ],
)
def test_language_tags_map_to_the_four_languages(tag: str, expected: str) -> None:
    assert supported_language(tag) == expected
