"""Catalog routes (admin): legal entities (sellers) and products, and the text fields other routes share.
Plans are in :mod:`chalicelib.api.plans`, offers in :mod:`chalicelib.api.offers`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from chalicelib.api.paging import ListQuery
from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.catalog.models import LegalEntity, Product, ProductKind, TimeZoneName
from chalicelib.catalog.vat import VatCode
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.periods import PeriodUnit
from chalicelib.values import PaymentMethod

router = Router("catalog", tag="catalog")

Text = Annotated[str, Field(min_length=1, max_length=200)]
Language = Literal["en", "nb", "sv", "da"]
Country = Literal["NO", "SE", "DK"]


# The published OpenAPI document names this schema after this module (chalicelib__api__catalog__PeriodView:
# api.views has a PeriodView too), so it stays here though only plans use it.
class PeriodView(ResponseModel):
    """A plan's period."""

    unit: PeriodUnit
    count: int


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
