"""Messages to customers rendered from Jinja2 templates in nb, sv, da and en. Pure: same input, same text.

Each kind has one template per language, ``templates/<language>/<kind>.j2``, defining the blocks
``subject``, ``text`` (plain e-mail body), ``sms`` (short, for SMS) and ``body`` (HTML, placed in
``templates/_layout.html.j2``). Subject, text and SMS are rendered without escaping, HTML with autoescape.
Amounts (``Money``) go through the ``money`` filter (babel ``format_currency``) and dates through ``date``
(babel ``format_date``, long form) in the customer's locale. A missing context value is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from chalicelib.money import Money
from chalicelib.notifications.kinds import MessageKind

TEMPLATES = Path(__file__).parent / "templates"
LOCALES = {"nb": "nb_NO", "sv": "sv_SE", "da": "da_DK", "en": "en_GB"}
LANGUAGE_ALIASES = {"no": "nb", "nn": "nb", "nob": "nb", "se": "sv", "dk": "da"}


_COMMON = ("customer_name", "seller_name")
# What each kind's templates read besides the common fields; optional values default to None.
REQUIRED: Mapping[MessageKind, tuple[str, ...]] = {
    MessageKind.ORDER_CONFIRMATION: ("order_number", "product_name", "start_date", "amount"),
    MessageKind.INVOICE_ISSUED: ("invoice_number", "amount", "due_date"),
    MessageKind.PAYMENT_RECEIVED: ("invoice_number", "amount", "paid_on"),
    MessageKind.PAYMENT_FAILED: ("invoice_number", "amount"),
    MessageKind.REMINDER: ("invoice_number", "amount", "due_date", "new_due_date"),
    MessageKind.COLLECTION_NOTICE: ("invoice_number", "amount", "due_date", "deadline"),
    MessageKind.SUBSCRIPTION_CHANGED: ("product_name", "effective_date", "amount"),
    MessageKind.SUBSCRIPTION_PAUSED: ("product_name", "paused_from"),
    MessageKind.SUBSCRIPTION_STOPPED: ("product_name", "end_date"),
    MessageKind.CARD_EXPIRING: ("card_last4", "expires", "update_url"),
    MessageKind.MANDATE_DELETED: ("kid", "product_name"),
}
OPTIONAL: Mapping[MessageKind, tuple[str, ...]] = {
    MessageKind.ORDER_CONFIRMATION: ("portal_url",),
    MessageKind.INVOICE_ISSUED: ("kid", "account_number", "pdf_attached"),
    MessageKind.PAYMENT_FAILED: ("next_attempt",),
    MessageKind.REMINDER: ("fee", "kid", "account_number"),
    MessageKind.COLLECTION_NOTICE: ("fee", "kid", "account_number"),
    MessageKind.SUBSCRIPTION_PAUSED: ("resumes_on",),
    MessageKind.SUBSCRIPTION_STOPPED: ("portal_url",),
}


class RenderError(ValueError):
    """The context lacks a value the message needs, or names an unknown kind or language."""


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A message ready to send: e-mail subject, plain and HTML bodies, and the short SMS text."""

    subject: str
    text: str
    html: str
    sms: str


def supported_language(language: str | None) -> str:
    """``nb``, ``sv``, ``da`` or ``en`` for a customer's language tag (``nb-NO``, ``no``, ``sv_SE``, ...);
    English for anything else."""
    base = (language or "").strip().lower().replace("_", "-").split("-")[0]
    base = LANGUAGE_ALIASES.get(base, base)
    return base if base in LOCALES else "en"


@pass_context
def _money(context: Context, value: Money) -> str:
    amount = Decimal(value.amount).scaleb(-value.currency.minor_digits)
    return str(format_currency(amount, value.currency.value, locale=context["locale"]))


@pass_context
def _date(context: Context, value: date) -> str:
    return str(format_date(value, "long", locale=context["locale"]))


@pass_context
def _month(context: Context, value: date) -> str:
    return str(format_date(value, "MMMM y", locale=context["locale"]))


_URL = re.compile(r"https?://[^\s<]+")


def _paragraphs(value: str) -> Markup:
    """Plain text (already escaped by the HTML environment) as HTML paragraphs, with links."""
    html = str(value).strip()
    blocks = [block.strip() for block in html.split("\n\n") if block.strip()]
    linked = [_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', block) for block in blocks]
    return Markup("\n".join("<p>" + block.replace("\n", "<br>\n") + "</p>" for block in linked))  # noqa: S704


@cache
def _environment(html: bool) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=html,  # noqa: S701 - subject, text and SMS are plain text, never HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.filters["money"] = _money
    environment.filters["date"] = _date
    environment.filters["month"] = _month
    environment.filters["paragraphs"] = _paragraphs
    return environment


def _block(template: Template, name: str, values: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(values))).strip()


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


# No-break spaces (babel puts them in amounts) are not in the GSM 7-bit alphabet; one would make an SMS
# UCS-2 and halve its length. Nordic letters (æøåäö) are in it.
_SMS_SPACES = str.maketrans({"\xa0": " ", "\u202f": " "})


def render(kind: MessageKind | str, language: str, context: Mapping[str, Any]) -> RenderedMessage:
    """Render message ``kind`` in ``language`` (falling back to English) from ``context``."""
    try:
        message_kind = MessageKind(kind)
    except ValueError:
        raise RenderError(f"no message kind {kind!r}") from None
    missing = [name for name in (*_COMMON, *REQUIRED[message_kind]) if context.get(name) is None]
    if missing:
        raise RenderError(f"{message_kind} needs {', '.join(missing)}")
    lang = supported_language(language)
    values: dict[str, Any] = dict.fromkeys(OPTIONAL.get(message_kind, ()))
    values.update(context)
    values.update(language=lang, locale=LOCALES[lang])
    name = f"{lang}/{message_kind.value}.j2"
    plain = _environment(html=False).get_template(name)
    rich = _environment(html=True).get_template(name)
    return RenderedMessage(
        subject=_one_line(_block(plain, "subject", values)),
        text=_block(plain, "text", values) + "\n",
        html=rich.render(values).strip() + "\n",
        sms=_one_line(_block(plain, "sms", values)).translate(_SMS_SPACES),
    )


__all__ = [
    "LANGUAGE_ALIASES",
    "LOCALES",
    "OPTIONAL",
    "REQUIRED",
    "TEMPLATES",
    "MessageKind",
    "RenderError",
    "RenderedMessage",
    "render",
    "supported_language",
]
