"""Order block routes (admin): block new orders by customer, e-mail, phone or organisation number."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from chalicelib.api.paging import ListQuery
from chalicelib.api.routing import Call, Reply, Router
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.customers.models import BlockKind, OrderBlock
from chalicelib.errors import FieldError, ValidationFailedError

router = Router("order_blocks", tag="customers")

Value = Annotated[str, Field(min_length=1, max_length=254)]


class OrderBlockCreate(RequestModel):
    """Exactly one of ``customer_id``, ``email``, ``phone`` and ``org_number``, and why (internal)."""

    customer_id: Value | None = None
    email: Value | None = None
    phone: Value | None = None
    org_number: Value | None = None
    country: Literal["NO", "SE", "DK"] = Field(
        default="NO", description="how a phone without country code or an organisation number is read"
    )
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class OrderBlockView(ResponseModel):
    """A block; ``value`` is normalised (e-mail, E.164 phone, organisation number digits, customer id)."""

    id: str
    kind: BlockKind
    value: str
    reason: str
    created_at: datetime


class OrderBlockList(ResponseModel):
    """A page of order blocks, oldest first."""

    items: list[OrderBlockView]
    next_cursor: str | None


_FIELDS = {
    "customer_id": BlockKind.CUSTOMER,
    "email": BlockKind.EMAIL,
    "phone": BlockKind.PHONE,
    "org_number": BlockKind.ORG_NUMBER,
}


def _what(request: OrderBlockCreate) -> tuple[BlockKind, str]:
    given = [(field, value) for field in _FIELDS if (value := getattr(request, field)) is not None]
    if len(given) != 1:
        message = "name exactly one of customer_id, email, phone and org_number"
        raise ValidationFailedError(
            message,
            [FieldError(field, message, "exactly_one") for field in (_FIELDS if not given else dict(given))],
        )
    field, value = given[0]
    return _FIELDS[field], value


def order_block_view(block: OrderBlock) -> OrderBlockView:
    """The API's shape of an order block."""
    return OrderBlockView.model_validate(block.model_dump())


@router.route(
    "POST",
    "/v1/order-blocks",
    summary="Block new orders",
    status=201,
    body=OrderBlockCreate,
    response=OrderBlockView,
    idempotent=True,
    problems=(409,),
)
def create_order_block(call: Call) -> OrderBlockView:
    """Stop new orders for a customer, e-mail, phone or organisation number; one block per value."""
    request = call.body(OrderBlockCreate)
    kind, value = _what(request)
    return order_block_view(call.services.order_blocks.create(kind, value, request.reason, request.country))


@router.route(
    "GET", "/v1/order-blocks", summary="List order blocks", query=ListQuery, response=OrderBlockList
)
def list_order_blocks(call: Call) -> OrderBlockList:
    """Order blocks, oldest first."""
    query = call.query(ListQuery)
    page = call.services.order_blocks.list(query.limit, query.cursor)
    return OrderBlockList(
        items=[order_block_view(block) for block in page.items], next_cursor=page.next_cursor
    )


@router.route("DELETE", "/v1/order-blocks/{id}", summary="Remove an order block", status=204, problems=(404,))
def delete_order_block(call: Call) -> Reply:
    """Orders matching the block are accepted again."""
    call.services.order_blocks.delete(call.path["id"])
    return Reply(body=None, status=204)
