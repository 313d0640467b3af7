"""Catalog routes (admin): legal entities, products, plans, price changes and offers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, field_validator

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import Amount, MoneyModel, QueryModel, RequestModel, ResponseModel
from chalicelib.billing.periods import Alignment, PeriodUnit
from chalicelib.catalog.models import (
    AccessGrant,
    Component,
    EarlyStop,
    LegalEntity,
    Offer,
    PaymentMethod,
    Plan,
    PriceChange,
    Product,
    ProductKind,
    Proration,
    TimeZoneName,
)
from chalicelib.catalog.vat import VatCode
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.money import Currency, Money

router = Router("catalog", tag="catalog")

Text = Annotated[str, Field(min_length=1, max_length=200)]
Language = Literal["en", "nb", "sv", "da"]
Country = Literal["NO", "SE", "DK"]


class PriceIn(RequestModel):
    """A price in the plan's currency; ``currency``, when given, must be the plan's."""

    amount: Amount
    currency: Currency | None = None


class ListQuery(QueryModel):
    """Pagination."""

    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2000)


# ---- legal entities ----------------------------------------------------------------------------------


class AddressIn(RequestModel):
    """A postal address."""

    line1: Text
    line2: Text | None = None
    postal_code: Annotated[str, Field(min_length=2, max_length=12)]
    city: Text
    country: Country = "NO"


class LegalEntityCreate(RequestModel):
    """A seller."""

    name: Text
    organization_number: Annotated[str, Field(min_length=6, max_length=20)]
    vat_registered: bool = True
    register_name: Text | None = "Foretaksregisteret"
    address: AddressIn
    bank_account: Annotated[str, Field(min_length=4, max_length=34)]
    iban: Annotated[str, Field(max_length=34)] | None = None
    bic: Annotated[str, Field(max_length=11)] | None = None
    country: Country = "NO"
    time_zone: TimeZoneName = "Europe/Oslo"
    email: Annotated[str, Field(max_length=254)] | None = None
    due_days: dict[PaymentMethod, Annotated[StrictInt, Field(ge=0, le=365)]] | None = None
    default_due_days: Annotated[StrictInt, Field(ge=0, le=365)] = 14
    invoice_number_start: Annotated[StrictInt, Field(ge=1, le=10**9)] = 1
    customer_number_start: Annotated[StrictInt, Field(ge=1, le=10**9)] = 10001


class LegalEntityPatch(RequestModel):
    """Changeable details of a seller. Numbers and series are fixed once invoices exist."""

    name: Text | None = None
    vat_registered: bool | None = None
    register_name: Text | None = None
    address: AddressIn | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    due_days: dict[PaymentMethod, Annotated[StrictInt, Field(ge=0, le=365)]] | None = None
    default_due_days: Annotated[StrictInt, Field(ge=0, le=365)] | None = None


class LegalEntityList(ResponseModel):
    """A page of legal entities."""

    items: list[LegalEntity]
    next_cursor: str | None


@router.route(
    "POST",
    "/v1/legal-entities",
    summary="Register a legal entity (seller)",
    status=201,
    body=LegalEntityCreate,
    response=LegalEntity,
    idempotent=True,
)
def create_legal_entity(call: Call) -> LegalEntity:
    """Register a seller."""
    fields = call.body(LegalEntityCreate).model_dump(exclude_none=True)
    return call.services.catalog.create_legal_entity(fields)


@router.route(
    "GET", "/v1/legal-entities", summary="List legal entities", query=ListQuery, response=LegalEntityList
)
def list_legal_entities(call: Call) -> LegalEntityList:
    """Legal entities, oldest first."""
    query = call.query(ListQuery)
    page = call.services.catalog.legal_entities(query.limit, query.cursor)
    return LegalEntityList(items=page.items, next_cursor=page.next_cursor)


@router.route(
    "GET", "/v1/legal-entities/{id}", summary="Read a legal entity", response=LegalEntity, problems=(404,)
)
def get_legal_entity(call: Call) -> LegalEntity:
    """One legal entity."""
    return call.services.catalog.legal_entity(call.path["id"])


@router.route(
    "PATCH",
    "/v1/legal-entities/{id}",
    summary="Change a legal entity",
    body=LegalEntityPatch,
    response=LegalEntity,
    problems=(404, 409),
)
def update_legal_entity(call: Call) -> LegalEntity:
    """Change a seller's details."""
    fields = call.body(LegalEntityPatch).model_dump(exclude_none=True)
    return call.services.catalog.update_legal_entity(call.path["id"], fields)


# ---- products ----------------------------------------------------------------------------------------


class TranslationIn(RequestModel):
    """A name and description in one language."""

    name: Text
    description: Annotated[str, Field(max_length=2000)] | None = None


class ProductCreate(RequestModel):
    """A product."""

    name: Text
    description: Annotated[str, Field(max_length=2000)] | None = None
    kind: ProductKind
    vat_rate_code: VatCode
    translations: dict[Language, TranslationIn] | None = None
    usage_metric: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")] | None = None
    legal_entity_id: str | None = None


class ProductList(ResponseModel):
    """A page of products."""

    items: list[Product]
    next_cursor: str | None


@router.route(
    "POST",
    "/v1/products",
    summary="Create a product",
    status=201,
    body=ProductCreate,
    response=Product,
    idempotent=True,
)
def create_product(call: Call) -> Product:
    """Add a product."""
    request = call.body(ProductCreate)
    if request.kind == ProductKind.USAGE and not request.usage_metric:
        raise ValidationFailedError(
            "a usage product names its metric",
            [FieldError("usage_metric", "required for kind usage", "missing")],
        )
    return call.services.catalog.create_product(request.model_dump(exclude_none=True))


@router.route("GET", "/v1/products", summary="List products", query=ListQuery, response=ProductList)
def list_products(call: Call) -> ProductList:
    """Products, oldest first."""
    query = call.query(ListQuery)
    page = call.services.catalog.products(query.limit, query.cursor)
    return ProductList(items=page.items, next_cursor=page.next_cursor)


@router.route("GET", "/v1/products/{id}", summary="Read a product", response=Product, problems=(404,))
def get_product(call: Call) -> Product:
    """One product."""
    return call.services.catalog.product(call.path["id"])


# ---- plans -------------------------------------------------------------------------------------------


class PeriodIn(RequestModel):
    """``count`` ``unit``s."""

    unit: PeriodUnit
    count: Annotated[StrictInt, Field(ge=1, le=120)] = 1


class ComponentIn(RequestModel):
    """A bundle part."""

    product_id: str
    price: PriceIn


class UsageTierIn(RequestModel):
    """Units up to ``up_to`` (None: the rest) at ``unit_price`` each."""

    up_to: Annotated[StrictInt, Field(ge=1)] | None = None
    unit_price: PriceIn


class UsagePriceIn(RequestModel):
    """A usage product's price: one tier is per unit, several are graduated."""

    product_id: str
    tiers: Annotated[list[UsageTierIn], Field(min_length=1, max_length=20)]


class PlanCreate(RequestModel):
    """A plan."""

    name: Text
    product_ids: Annotated[list[str], Field(min_length=1, max_length=20)]
    currency: Currency
    price: PriceIn
    prices_include_vat: bool = True
    period: PeriodIn
    alignment: Alignment = Alignment.ANNIVERSARY
    binding_periods: Annotated[StrictInt, Field(ge=0, le=120)] = 0
    early_stop: EarlyStop = EarlyStop.REFUSE
    next_plan_id: str | None = None
    proration: Proration = Proration.BY_DAYS
    components: Annotated[list[ComponentIn], Field(min_length=1, max_length=20)] | None = None
    usage: Annotated[list[UsagePriceIn], Field(max_length=20)] | None = Field(
        default=None, description="metered products billed in arrears, per billing period"
    )


class PriceChangeCreate(RequestModel):
    """A new list price from a date."""

    price: PriceIn
    effective_date: date
    components: Annotated[list[ComponentIn], Field(min_length=1, max_length=20)] | None = None


class ComponentView(ResponseModel):
    """A bundle part and its share of the price."""

    product_id: str
    price: MoneyModel


class PriceChangeView(ResponseModel):
    """A scheduled or past price change."""

    plan_id: str
    effective_date: date
    price: MoneyModel
    components: list[ComponentView] | None
    created_at: datetime


class PeriodView(ResponseModel):
    """A plan's period."""

    unit: PeriodUnit
    count: int


class UsageTierView(ResponseModel):
    """A usage tier."""

    up_to: int | None
    unit_price: MoneyModel


class UsagePriceView(ResponseModel):
    """A usage product's price."""

    product_id: str
    metric: str
    tiers: list[UsageTierView]


class PlanView(ResponseModel):
    """A plan."""

    id: str
    legal_entity_id: str
    name: str
    product_ids: list[str]
    currency: Currency
    price: MoneyModel
    prices_include_vat: bool
    period: PeriodView
    alignment: Alignment
    binding_periods: int
    early_stop: EarlyStop
    next_plan_id: str | None
    proration: Proration
    components: list[ComponentView]
    price_changes: list[PriceChangeView]
    usage: list[UsagePriceView]
    created_at: datetime


class PlanList(ResponseModel):
    """A page of plans."""

    items: list[PlanView]
    next_cursor: str | None


def _money(amount: int, currency: Currency) -> MoneyModel:
    return MoneyModel.of(Money(amount, currency))


def _components(components: list[Component], currency: Currency) -> list[ComponentView]:
    return [ComponentView(product_id=c.product_id, price=_money(c.price, currency)) for c in components]


def _change_view(plan: Plan, change: PriceChange) -> PriceChangeView:
    return PriceChangeView(
        plan_id=plan.id,
        effective_date=change.effective_date,
        price=_money(change.price, plan.currency),
        components=_components(change.components, plan.currency) if change.components else None,
        created_at=change.created_at,
    )


def plan_view(plan: Plan) -> PlanView:
    """The API's shape of a plan."""
    return PlanView(
        **plan.model_dump(
            include={
                "id",
                "legal_entity_id",
                "name",
                "product_ids",
                "currency",
                "prices_include_vat",
                "alignment",
                "binding_periods",
                "early_stop",
                "next_plan_id",
                "proration",
                "created_at",
            }
        ),
        price=_money(plan.price, plan.currency),
        period=PeriodView(unit=plan.period.unit, count=plan.period.count),
        components=_components(plan.components, plan.currency),
        price_changes=[_change_view(plan, change) for change in plan.price_changes],
        usage=[
            UsagePriceView(
                product_id=price.product_id,
                metric=price.metric,
                tiers=[
                    UsageTierView(up_to=tier.up_to, unit_price=_money(tier.unit_price, plan.currency))
                    for tier in price.tiers
                ],
            )
            for price in plan.usage
        ],
    )


def _check_currency(prices: list[tuple[str, PriceIn]], currency: Currency) -> None:
    wrong = [
        FieldError(field, f"the plan's currency is {currency}", "currency_mismatch")
        for field, price in prices
        if price.currency not in (None, currency)
    ]
    if wrong:
        raise ValidationFailedError("prices must be in the plan's currency", wrong)


def _component_dicts(components: list[ComponentIn] | None) -> list[dict[str, Any]] | None:
    if components is None:
        return None
    return [{"product_id": c.product_id, "price": c.price.amount} for c in components]


@router.route(
    "POST",
    "/v1/plans",
    summary="Create a plan",
    status=201,
    body=PlanCreate,
    response=PlanView,
    idempotent=True,
)
def create_plan(call: Call) -> PlanView:
    """Add a plan."""
    request = call.body(PlanCreate)
    _check_currency(
        [("price", request.price)]
        + [(f"components.{i}.price", c.price) for i, c in enumerate(request.components or [])]
        + [
            (f"usage.{i}.tiers.{j}.unit_price", tier.unit_price)
            for i, price in enumerate(request.usage or [])
            for j, tier in enumerate(price.tiers)
        ],
        request.currency,
    )
    fields = request.model_dump(exclude_none=True, exclude={"price", "components", "usage"})
    fields["price"] = request.price.amount
    if request.components is not None:
        fields["components"] = _component_dicts(request.components)
    if request.usage is not None:
        fields["usage"] = [
            {
                "product_id": price.product_id,
                "tiers": [{"up_to": t.up_to, "unit_price": t.unit_price.amount} for t in price.tiers],
            }
            for price in request.usage
        ]
    return plan_view(call.services.catalog.create_plan(fields))


@router.route("GET", "/v1/plans", summary="List plans", query=ListQuery, response=PlanList)
def list_plans(call: Call) -> PlanList:
    """Plans, oldest first."""
    query = call.query(ListQuery)
    page = call.services.catalog.plans(query.limit, query.cursor)
    return PlanList(items=[plan_view(plan) for plan in page.items], next_cursor=page.next_cursor)


@router.route("GET", "/v1/plans/{id}", summary="Read a plan", response=PlanView, problems=(404,))
def get_plan(call: Call) -> PlanView:
    """One plan."""
    return plan_view(call.services.catalog.plan(call.path["id"]))


@router.route(
    "POST",
    "/v1/plans/{id}/price-changes",
    summary="Schedule a price change",
    status=201,
    body=PriceChangeCreate,
    response=PriceChangeView,
    idempotent=True,
    problems=(404,),
)
def create_price_change(call: Call) -> PriceChangeView:
    """Periods starting on or after the effective date get the new price; drafts follow."""
    request = call.body(PriceChangeCreate)
    catalog = call.services.catalog
    plan = catalog.plan(call.path["id"])
    _check_currency(
        [("price", request.price)]
        + [(f"components.{i}.price", c.price) for i, c in enumerate(request.components or [])],
        plan.currency,
    )
    components = [Component.model_validate(c) for c in _component_dicts(request.components) or []] or None
    change = catalog.add_price_change(plan.id, request.price.amount, request.effective_date, components)
    call.services.drafts.plan_changed(plan.id)
    return _change_view(plan, change)


# ---- offers ------------------------------------------------------------------------------------------


class CampaignIn(RequestModel):
    """A campaign price for the first periods."""

    price: PriceIn
    periods: Annotated[StrictInt, Field(ge=1, le=120)]


class AfterCampaignIn(RequestModel):
    """The plan that follows the campaign."""

    plan_id: str


class OfferCreate(RequestModel):
    """A sales poster."""

    name: Text
    plan_id: str
    campaign: CampaignIn | None = None
    payment_methods: Annotated[list[PaymentMethod], Field(min_length=1, max_length=7)]
    channel: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    after_campaign: AfterCampaignIn | None = None
    access: AccessGrant = AccessGrant.ON_PAYMENT

    @field_validator("payment_methods")
    @classmethod
    def _unique(cls, value: list[PaymentMethod]) -> list[PaymentMethod]:
        if len(set(value)) != len(value):
            raise ValueError("each payment method once")
        return value


class CampaignView(ResponseModel):
    """A campaign."""

    price: MoneyModel
    periods: int


class OfferView(ResponseModel):
    """An offer."""

    id: str
    name: str
    plan_id: str
    campaign: CampaignView | None
    payment_methods: list[PaymentMethod]
    channel: str | None
    valid_from: date | None
    valid_until: date | None
    after_campaign: AfterCampaignIn | None
    access: AccessGrant
    active: bool
    created_at: datetime


class OfferList(ResponseModel):
    """A page of offers."""

    items: list[OfferView]
    next_cursor: str | None


def offer_view(offer: Offer, currency: Currency) -> OfferView:
    """The API's shape of an offer."""
    return OfferView(
        **offer.model_dump(
            include={
                "id",
                "name",
                "plan_id",
                "payment_methods",
                "channel",
                "valid_from",
                "valid_until",
                "access",
                "active",
                "created_at",
            }
        ),
        campaign=CampaignView(price=_money(offer.campaign.price, currency), periods=offer.campaign.periods)
        if offer.campaign
        else None,
        after_campaign=AfterCampaignIn(plan_id=offer.after_campaign.plan_id)
        if offer.after_campaign
        else None,
    )


@router.route(
    "POST",
    "/v1/offers",
    summary="Create an offer (sales poster)",
    status=201,
    body=OfferCreate,
    response=OfferView,
    idempotent=True,
)
def create_offer(call: Call) -> OfferView:
    """Add an offer."""
    request = call.body(OfferCreate)
    catalog = call.services.catalog
    plan = catalog.referenced_plan(request.plan_id, "plan_id")
    if request.campaign:
        _check_currency([("campaign.price", request.campaign.price)], plan.currency)
    fields = request.model_dump(exclude_none=True, exclude={"campaign"})
    if request.campaign:
        fields["campaign"] = {"price": request.campaign.price.amount, "periods": request.campaign.periods}
    return offer_view(catalog.create_offer(fields), plan.currency)


@router.route("GET", "/v1/offers", summary="List offers", query=ListQuery, response=OfferList)
def list_offers(call: Call) -> OfferList:
    """Offers, oldest first."""
    query = call.query(ListQuery)
    catalog = call.services.catalog
    page = catalog.offers(query.limit, query.cursor)
    currencies = catalog.plan_currencies({offer.plan_id for offer in page.items})
    return OfferList(
        items=[offer_view(offer, currencies[offer.plan_id]) for offer in page.items],
        next_cursor=page.next_cursor,
    )


@router.route("GET", "/v1/offers/{id}", summary="Read an offer", response=OfferView, problems=(404,))
def get_offer(call: Call) -> OfferView:
    """One offer."""
    catalog = call.services.catalog
    offer = catalog.offer(call.path["id"])
    return offer_view(offer, catalog.plan(offer.plan_id).currency)
