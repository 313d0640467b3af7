"""The catalog as documents: legal entities (sellers), products, plans and offers ("salgsplakat").

A product is sellable only through a plan, and a plan only through an offer. Prices are integer minor
units in the plan's currency; a bundle's price is split across its products (``components``) so that each
invoice line carries its own product's VAT.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field

from chalicelib.catalog.vat import VatCode
from chalicelib.clock import is_time_zone, local_date
from chalicelib.money import Currency, Money
from chalicelib.periods import Alignment, PeriodUnit
from chalicelib.values import Address, Document, PaymentMethod


def known_time_zone(value: str) -> str:
    """``value`` if it names an IANA time zone the platform knows; else a ``ValueError`` (a 422 naming
    the field at the edge)."""
    if not is_time_zone(value):
        raise ValueError("not an IANA time zone")
    return value


TimeZoneName = Annotated[str, AfterValidator(known_time_zone)]

LANGUAGES = ("en", "nb", "sv", "da")


class ProductKind(StrEnum):
    """What a product is."""

    DIGITAL = "digital"
    PHYSICAL = "physical"
    SERVICE = "service"
    USAGE = "usage"


class Proration(StrEnum):
    """What a mid-period change does to money (billing.md)."""

    NONE = "none"
    BY_DAYS = "by_days"
    WHOLE_PERIOD = "whole_period"


class EarlyStop(StrEnum):
    """A stop before the binding period ends is refused, or allowed with the rest of the binding charged."""

    REFUSE = "refuse"
    CHARGE = "charge"


class LegalEntity(Document):
    """A seller: issues invoices under its own organisation number and gapless number series."""

    id: str
    name: str
    organization_number: str
    vat_registered: bool = True
    register_name: str | None = Field(default="Foretaksregisteret", description="Printed after the number")
    address: Address
    bank_account: str
    iban: str | None = None
    bic: str | None = None
    country: str = "NO"
    time_zone: TimeZoneName = "Europe/Oslo"
    email: str | None = None
    # Days from issue to due date, per payment method; methods not listed use ``default_due_days``.
    due_days: dict[PaymentMethod, int] = Field(
        default_factory=lambda: {
            PaymentMethod.CARD: 0,
            PaymentMethod.VIPPS: 0,
            PaymentMethod.INVOICE: 14,
            PaymentMethod.EFAKTURA: 14,
            PaymentMethod.EHF: 14,
            PaymentMethod.AVTALEGIRO: 14,
            PaymentMethod.AUTOGIRO: 14,
        }
    )
    default_due_days: int = 14
    # Days before a period starts that its invoice is issued, per payment method (paper invoices need time
    # in the post; AvtaleGiro claims need the bank's notice; card and Vipps charge close to the start).
    invoice_lead_days: dict[PaymentMethod, int] = Field(
        default_factory=lambda: {
            PaymentMethod.CARD: 0,
            PaymentMethod.VIPPS: 1,
            PaymentMethod.INVOICE: 14,
            PaymentMethod.EFAKTURA: 14,
            PaymentMethod.EHF: 14,
            PaymentMethod.AVTALEGIRO: 14,
            PaymentMethod.AUTOGIRO: 10,
        }
    )
    invoice_number_start: int = 1
    customer_number_start: int = 10001
    created_at: datetime

    @property
    def zone(self) -> ZoneInfo:
        """The seller's time zone: its business dates are dates there."""
        return ZoneInfo(self.time_zone)

    def business_date(self, instant: datetime) -> date:
        """The seller's business date at ``instant``: the date on its own calendar."""
        return local_date(instant, self.zone)

    def lead_days_for(self, method: PaymentMethod) -> int:
        """Days before a period's start that its invoice is issued, for ``method``."""
        return self.invoice_lead_days.get(method, self.default_due_days)

    def due_days_for(self, method: PaymentMethod) -> int:
        """Days from issue to due date for ``method``."""
        return self.due_days.get(method, self.default_due_days)


class Translation(Document):
    """A product's name and description in one language."""

    name: str
    description: str | None = None


class Product(Document):
    """Something sold: digital access, a physical delivery, a service, or metered usage."""

    id: str
    legal_entity_id: str
    name: str
    description: str | None = None
    kind: ProductKind
    vat_rate_code: VatCode
    translations: dict[str, Translation] = Field(default_factory=dict)
    usage_metric: str | None = None
    created_at: datetime

    def name_in(self, language: str) -> str:
        """The name in ``language``, falling back to the default name."""
        translation = self.translations.get(language)
        return translation.name if translation else self.name


class Period(Document):
    """A plan's billing period: ``count`` ``unit``s."""

    unit: PeriodUnit
    count: int = Field(ge=1, le=120)


class Component(Document):
    """A bundle's part: one product and its share of the plan price."""

    product_id: str
    price: int = Field(ge=0)


class PriceChange(Document):
    """A new list price from ``effective_date``: applies from the first period starting on or after it."""

    effective_date: date
    price: int = Field(ge=0)
    components: list[Component] | None = None
    created_at: datetime


class PlanPrice(Document):
    """A plan's price as of a date, with its split across components."""

    price: int
    components: list[Component]


class UsageTier(Document):
    """Units up to ``up_to`` (inclusive, counted from the first unit of the period; None: all the rest) cost
    ``unit_price`` each."""

    up_to: int | None = Field(default=None, ge=1)
    unit_price: int = Field(ge=0)


class UsagePrice(Document):
    """How a usage product's metric is charged, in arrears per billing period: one tier is a per-unit
    price; several are graduated (each unit at the price of the tier it falls in)."""

    product_id: str
    metric: str
    tiers: list[UsageTier] = Field(min_length=1, max_length=20)


class Plan(Document):
    """How products are billed: currency, price, period, binding, proration, what comes next."""

    id: str
    legal_entity_id: str
    name: str
    product_ids: list[str]
    currency: Currency
    price: int = Field(ge=0)
    prices_include_vat: bool = True
    period: Period
    alignment: Alignment = Alignment.ANNIVERSARY
    binding_periods: int = Field(default=0, ge=0)
    early_stop: EarlyStop = EarlyStop.REFUSE
    next_plan_id: str | None = None
    proration: Proration = Proration.BY_DAYS
    components: list[Component]
    price_changes: list[PriceChange] = Field(default_factory=list)
    usage: list[UsagePrice] = Field(default_factory=list)
    created_at: datetime

    def usage_price(self, metric: str) -> UsagePrice | None:
        """The price of ``metric`` on this plan, if it is charged."""
        return next((price for price in self.usage if price.metric == metric), None)

    def price_on(self, day: date) -> PlanPrice:
        """The list price that applies to a period starting on ``day``."""
        current = PlanPrice(price=self.price, components=self.components)
        for change in sorted(self.price_changes, key=lambda c: c.effective_date):
            if change.effective_date <= day:
                current = PlanPrice(
                    price=change.price, components=change.components or _scaled(self.components, change.price)
                )
        return current

    def money(self, amount: int) -> Money:
        """``amount`` minor units in the plan's currency."""
        return Money(amount, self.currency)


def _scaled(components: list[Component], total: int) -> list[Component]:
    """Components rescaled to a new total, in proportion to their old prices, adding up exactly."""
    weights = [component.price for component in components]
    if sum(weights) == 0:
        weights = [1] * len(components)
    parts = Money(total, Currency.NOK).allocate(weights)
    return [
        Component(product_id=c.product_id, price=p.amount) for c, p in zip(components, parts, strict=True)
    ]


def split_price(components: list[Component], total: int) -> list[Component]:
    """Split ``total`` (e.g. a campaign price) across components in proportion to their list prices."""
    return _scaled(components, total)


class Campaign(Document):
    """A campaign price for the first ``periods`` periods."""

    price: int = Field(ge=0)
    periods: int = Field(ge=1, le=120)


class AfterCampaign(Document):
    """What follows the campaign: another plan (default: the offer's plan at list price)."""

    plan_id: str


class AccessGrant(StrEnum):
    """When an order's customer gets access."""

    ON_ORDER = "on_order"
    ON_PAYMENT = "on_payment"


class Offer(Document):
    """A sales poster: a plan, an optional campaign, the payment methods allowed, a channel and window."""

    id: str
    name: str
    plan_id: str
    campaign: Campaign | None = None
    payment_methods: list[PaymentMethod]
    channel: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    after_campaign: AfterCampaign | None = None
    access: AccessGrant = AccessGrant.ON_PAYMENT
    active: bool = True
    created_at: datetime

    def is_open_on(self, day: date) -> bool:
        """Whether orders may be placed on ``day``."""
        if not self.active:
            return False
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_until and day > self.valid_until)
