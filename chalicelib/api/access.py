"""The access check: may this customer use this product today? Called by CMSs and apps server to server
with the admin (machine) token, never from a browser: it tells who is a subscriber."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import QueryModel, ResponseModel
from chalicelib.errors import FieldError, ValidationFailedError

if TYPE_CHECKING:
    from chalicelib.subscriptions.access import AccessDecision

router = Router("access", tag="access")

Ident = Annotated[str, Field(min_length=1, max_length=100)]


class AccessQuery(QueryModel):
    """The product, and the customer by id or by e-mail (exactly one)."""

    product_id: Ident
    customer_id: Ident | None = None
    email: Annotated[
        str | None,
        Field(default=None, min_length=3, max_length=254, description="matched whatever its case"),
    ]


class AccessView(ResponseModel):
    """The answer: access today (Europe/Oslo), and the first day without it."""

    customer_id: str | None = Field(description="the customer checked; null for an unknown e-mail")
    product_id: str
    access: bool
    valid_until: date | None = Field(description="first day without access (exclusive); null without access")


def _view(decision: AccessDecision, product_id: str) -> AccessView:
    return AccessView(
        customer_id=decision.customer_id,
        product_id=product_id,
        access=decision.has_access,
        valid_until=decision.valid_until,
    )


@router.route(
    "GET",
    "/v1/access",
    summary="Check a customer's access to a product",
    query=AccessQuery,
    response=AccessView,
)
def check_access(call: Call) -> AccessView:
    """One read by customer id, two by e-mail (the e-mail lookup first)."""
    query = call.query(AccessQuery)
    if (query.customer_id is None) == (query.email is None):
        message = "name exactly one of customer_id and email"
        raise ValidationFailedError(
            message,
            [FieldError(field, message, "exactly_one", "query") for field in ("customer_id", "email")],
        )
    access = call.services.access
    if query.customer_id is not None:
        decision = access.check(query.customer_id, query.product_id)
    else:
        assert query.email is not None
        decision = access.check_by_email(query.email, query.product_id)
    return _view(decision, query.product_id)
