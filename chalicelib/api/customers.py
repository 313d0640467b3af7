"""Customer routes (admin): search (Brukersøk), read, change with history, lists, and fees."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt

from chalicelib.api.catalog import AddressIn, Text
from chalicelib.api.paging import ListQuery
from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import MoneyModel, QueryModel, RequestModel, ResponseModel
from chalicelib.api.views import InvoiceView, SubscriptionView, invoice_view, subscription_view
from chalicelib.catalog.vat import VatCode
from chalicelib.customers.models import Customer, CustomerChange, CustomerType, Fee, FeeStatus
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.money import Currency, Money
from chalicelib.values import Address

router = Router("customers", tag="customers")

Language = Literal["en", "nb", "sv", "da"]
PATCH_SOURCE = "admin"


class CustomerView(ResponseModel):
    """A customer."""

    id: str
    number: int
    type: CustomerType
    name: str
    email: str
    phone: str | None = Field(description="E.164")
    address: Address | None
    org_number: str | None = Field(description="digits only")
    country: str
    language: str
    email_opt_out: bool = Field(description="no e-mail notifications")
    sms_opt_out: bool = Field(description="no SMS notifications")
    created_at: datetime
    updated_at: datetime


def customer_view(customer: Customer) -> CustomerView:
    """The API's shape of a customer."""
    return CustomerView.model_validate(customer.model_dump())


# ---- search and read ---------------------------------------------------------------------------------


class CustomerSearch(QueryModel):
    """A search text and how many customers to return at most."""

    q: str = Field(
        min_length=1,
        max_length=200,
        description="a name prefix (2 letters or more), e-mail, phone (+47…), customer number, "
        "organisation number, invoice number or KID",
    )
    limit: int = Field(default=20, ge=1, le=100)


class CustomerSearchResult(ResponseModel):
    """The customers found, best match first; a search is not paginated."""

    items: list[CustomerView]


@router.route(
    "GET", "/v1/customers", summary="Search customers", query=CustomerSearch, response=CustomerSearchResult
)
def search_customers(call: Call) -> CustomerSearchResult:
    """Find customers by name prefix, e-mail, phone, customer, organisation or invoice number, or KID."""
    query = call.query(CustomerSearch)
    found = call.services.customers.search(query.q, query.limit)
    return CustomerSearchResult(items=[customer_view(customer) for customer in found])


@router.route("GET", "/v1/customers/{id}", summary="Read a customer", response=CustomerView, problems=(404,))
def get_customer(call: Call) -> CustomerView:
    """One customer."""
    return customer_view(call.services.customers.get(call.path["id"]))


# ---- change and history ------------------------------------------------------------------------------


class CustomerPatch(RequestModel):
    """The fields to change; ``null`` removes a phone or address. Identifiers are normalised and checked."""

    name: Text | None = None
    email: Annotated[str, Field(min_length=3, max_length=254)] | None = None
    phone: Annotated[str, Field(min_length=3, max_length=32)] | None = None
    address: AddressIn | None = None
    language: Language | None = None
    org_number: Annotated[str, Field(min_length=6, max_length=20)] | None = Field(
        default=None, description="organisations only; checked for the customer's country"
    )
    email_opt_out: bool | None = Field(default=None, description="true: no e-mail notifications")
    sms_opt_out: bool | None = Field(default=None, description="true: no SMS notifications")


def _patch_fields(patch: CustomerPatch) -> dict[str, Any]:
    fields = patch.model_dump(exclude_unset=True)
    if not fields:
        raise ValidationFailedError(
            "name at least one field to change", [FieldError("(root)", "empty change", "empty")]
        )
    return fields


@router.route(
    "PATCH",
    "/v1/customers/{id}",
    summary="Change a customer",
    body=CustomerPatch,
    response=CustomerView,
    problems=(404, 409),
)
def update_customer(call: Call) -> CustomerView:
    """Change some of a customer's details; each change is recorded in the history."""
    fields = _patch_fields(call.body(CustomerPatch))
    return customer_view(call.services.customers.update(call.path["id"], fields, PATCH_SOURCE))


class CustomerChangeView(ResponseModel):
    """One change: each field's value before and after."""

    at: datetime
    source: str
    changes: dict[str, dict[str, Any]] = Field(description="field → {from, to}")


class CustomerChangeList(ResponseModel):
    """A page of a customer's changes, oldest first."""

    items: list[CustomerChangeView]
    next_cursor: str | None


def _change_view(change: CustomerChange) -> CustomerChangeView:
    return CustomerChangeView(at=change.at, source=change.source, changes=change.changes)


@router.route(
    "GET",
    "/v1/customers/{id}/history",
    summary="List a customer's changes",
    query=ListQuery,
    response=CustomerChangeList,
    problems=(404,),
)
def customer_history(call: Call) -> CustomerChangeList:
    """What changed when, oldest first."""
    query = call.query(ListQuery)
    page = call.services.customers.history(call.path["id"], query.limit, query.cursor)
    return CustomerChangeList(
        items=[_change_view(change) for change in page.items], next_cursor=page.next_cursor
    )


# ---- subscriptions and invoices ----------------------------------------------------------------------


class CustomerSubscriptionList(ResponseModel):
    """A page of a customer's subscriptions, oldest first (``next_invoice`` is not filled in lists)."""

    items: list[SubscriptionView]
    next_cursor: str | None


class CustomerInvoiceList(ResponseModel):
    """A page of a customer's invoices, drafts and credit notes, by invoice date."""

    items: list[InvoiceView]
    next_cursor: str | None


@router.route(
    "GET",
    "/v1/customers/{id}/subscriptions",
    summary="List a customer's subscriptions",
    query=ListQuery,
    response=CustomerSubscriptionList,
    problems=(404,),
)
def customer_subscriptions(call: Call) -> CustomerSubscriptionList:
    """The customer's subscriptions."""
    query = call.query(ListQuery)
    page = call.services.customers.subscriptions(call.path["id"], query.limit, query.cursor)
    today = call.services.subscriptions.today_for_all(page.items)
    agreements = call.services.subscriptions.agreement_statuses(page.items)
    return CustomerSubscriptionList(
        items=[
            subscription_view(sub, *today[sub.id], None, agreements.get(sub.agreement_id))
            for sub in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.route(
    "GET",
    "/v1/customers/{id}/invoices",
    summary="List a customer's invoices",
    query=ListQuery,
    response=CustomerInvoiceList,
    problems=(404,),
)
def customer_invoices(call: Call) -> CustomerInvoiceList:
    """The customer's invoices."""
    query = call.query(ListQuery)
    page = call.services.customers.invoices(call.path["id"], query.limit, query.cursor)
    return CustomerInvoiceList(
        items=[invoice_view(invoice) for invoice in page.items], next_cursor=page.next_cursor
    )


# ---- fees --------------------------------------------------------------------------------------------


class FeeAmountIn(RequestModel):
    """A positive amount of minor units; the currency defaults to NOK."""

    amount: Annotated[StrictInt, Field(gt=0, le=10**9, description="Integer minor units")]
    currency: Currency = Currency.NOK


class FeeCreate(RequestModel):
    """A fee for the customer's next invoice in its currency."""

    amount: FeeAmountIn
    text: Text
    vat_rate_code: VatCode = VatCode.STANDARD


class FeeView(ResponseModel):
    """A fee."""

    id: str
    customer_id: str
    amount: MoneyModel
    text: str
    vat_rate_code: VatCode
    status: FeeStatus
    invoice_id: str | None
    created_at: datetime


def fee_view(fee: Fee) -> FeeView:
    """The API's shape of a fee."""
    return FeeView(
        id=fee.id,
        customer_id=fee.customer_id,
        amount=MoneyModel.of(Money(fee.amount, fee.currency)),
        text=fee.text,
        vat_rate_code=fee.vat_code,
        status=fee.status,
        invoice_id=fee.invoice_id,
        created_at=fee.created_at,
    )


@router.route(
    "POST",
    "/v1/customers/{id}/fees",
    summary="Add a fee to a customer's next invoice",
    status=201,
    body=FeeCreate,
    response=FeeView,
    idempotent=True,
    problems=(404,),
)
def add_fee(call: Call) -> FeeView:
    """A fee on the customer's next invoice; the drafts are rebuilt to show it."""
    request = call.body(FeeCreate)
    customer_id = call.path["id"]
    fee = call.services.fees.add(
        customer_id, request.amount.amount, request.amount.currency, request.text, request.vat_rate_code
    )
    call.services.drafts.customer_changed(customer_id)
    return fee_view(fee)
