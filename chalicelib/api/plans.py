"""Plan routes (admin): plans and their scheduled price changes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, StrictInt

from chalicelib.api.catalog import PeriodView, Text
from chalicelib.api.paging import ListQuery
from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import Amount, MoneyModel, RequestModel, ResponseModel
from chalicelib.catalog.models import Component, EarlyStop, Plan, PriceChange, Proration
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.money import Currency, Money
from chalicelib.periods import Alignment, PeriodUnit

router = Router("plans", tag="catalog")


class PriceIn(RequestModel):
    """A price in the plan's currency; ``currency``, when given, must be the plan's."""

    amount: Amount
    currency: Currency | None = None


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


def check_plan_currency(prices: list[tuple[str, PriceIn]], currency: Currency) -> None:
    """Prices are in the plan's currency: each ``(field, price)`` naming another is a field error."""
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
    check_plan_currency(
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
    check_plan_currency(
        [("price", request.price)]
        + [(f"components.{i}.price", c.price) for i, c in enumerate(request.components or [])],
        plan.currency,
    )
    components = [Component.model_validate(c) for c in _component_dicts(request.components) or []] or None
    change = catalog.add_price_change(plan.id, request.price.amount, request.effective_date, components)
    call.services.drafts.plan_changed(plan.id)
    return _change_view(plan, change)
