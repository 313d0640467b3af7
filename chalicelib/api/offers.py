"""Offer routes (admin): the sales posters orders are placed from."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StrictInt, field_validator

from chalicelib.api.catalog import Text
from chalicelib.api.paging import ListQuery
from chalicelib.api.plans import PriceIn, check_plan_currency
from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import MoneyModel, RequestModel, ResponseModel
from chalicelib.catalog.models import AccessGrant, Offer
from chalicelib.money import Currency, Money
from chalicelib.values import PaymentMethod

router = Router("offers", tag="catalog")


def _money(amount: int, currency: Currency) -> MoneyModel:
    return MoneyModel.of(Money(amount, currency))


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
        check_plan_currency([("campaign.price", request.campaign.price)], plan.currency)
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
