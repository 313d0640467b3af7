"""Orders (admin: shops, web pages and the back office place them server to server)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from chalicelib.api.catalog import AddressIn, Text
from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.customers.models import CustomerType
from chalicelib.orders.models import CustomerDetails, Order, OrderRequest, PaymentStatus
from chalicelib.values import Address, PaymentMethod

router = Router("orders", tag="orders")


class CustomerIn(RequestModel):
    """Who orders."""

    type: CustomerType
    name: Text
    email: Annotated[str, Field(min_length=3, max_length=254)]
    phone: Annotated[str, Field(min_length=3, max_length=32)] | None = None
    address: AddressIn | None = None
    org_number: Annotated[str, Field(min_length=6, max_length=20)] | None = None
    language: Literal["en", "nb", "sv", "da"] = "nb"


class OrderCreate(RequestModel):
    """An order for an offer."""

    offer_id: Annotated[str, Field(min_length=1, max_length=64)]
    payment_method: PaymentMethod
    quantity: Annotated[StrictInt, Field(ge=1, le=10_000)] = 1
    start_date: date | None = Field(default=None, description="ISO date; default today")
    customer: CustomerIn
    channel: Annotated[str, Field(min_length=1, max_length=50)] | None = None


class OrderPaymentView(ResponseModel):
    """The order's payment."""

    status: PaymentStatus
    redirect_url: str | None = None
    kid: str | None = None


class OrderView(ResponseModel):
    """What an order created."""

    order_id: str
    customer_id: str
    subscription_id: str
    invoice_id: str
    agreement_id: str
    payment_method: PaymentMethod
    new_customer: bool
    payment: OrderPaymentView


def order_view(order: Order) -> OrderView:
    """The API's shape of an order."""
    return OrderView(
        order_id=order.id,
        customer_id=order.customer_id,
        subscription_id=order.subscription_id,
        invoice_id=order.invoice_id,
        agreement_id=order.agreement_id,
        payment_method=order.payment_method,
        new_customer=order.new_customer,
        payment=OrderPaymentView(**order.payment.model_dump()),
    )


def _request(body: OrderCreate) -> OrderRequest:
    customer = body.customer
    return OrderRequest(
        offer_id=body.offer_id,
        payment_method=body.payment_method,
        quantity=body.quantity,
        start_date=body.start_date,
        channel=body.channel,
        customer=CustomerDetails(
            type=customer.type,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            address=Address.model_validate(customer.address.model_dump()) if customer.address else None,
            org_number=customer.org_number,
            language=customer.language,
        ),
    )


@router.route(
    "POST",
    "/v1/orders",
    summary="Place an order",
    status=201,
    body=OrderCreate,
    response=OrderView,
    idempotent=True,
    problems=(403,),
)
def place_order(call: Call) -> OrderView:
    """Customer, subscription, payment agreement, first invoice and next draft, in one transaction."""
    order = call.services.orders.place(_request(call.body(OrderCreate)))
    # After the order's transaction: the provider's agreement (Vipps, card). An outage keeps the order.
    return order_view(call.services.payment_flows.set_up.set_up_after_order(order))


@router.route("GET", "/v1/orders/{id}", summary="Read an order", response=OrderView, problems=(404,))
def get_order(call: Call) -> OrderView:
    """One order."""
    return order_view(call.services.orders.order(call.path["id"]))


@router.route(
    "POST",
    "/v1/orders/{id}/payment",
    summary="Set up (again) the order's payment agreement with its provider",
    response=OrderView,
    problems=(404, 422, 502, 503),
)
def set_up_order_payment(call: Call) -> OrderView:
    """For a Vipps or card order whose provider was unavailable: ask it again (idempotent); the same
    ``payment.redirect_url`` comes back once it is set up."""
    return order_view(call.services.payment_flows.set_up.set_up(call.path["id"]))
