"""What the flow placing an order checks before it writes anything: the offer takes the order today, and
the customer's details are valid for their country. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from chalicelib.catalog.models import Offer, Plan, Product
from chalicelib.customers.identifiers import (
    InvalidIdentifierError,
    normalise_email,
    normalise_organisation_number,
    normalise_phone_number,
)
from chalicelib.customers.models import CustomerType
from chalicelib.errors import FieldError, ValidationFailedError
from chalicelib.orders.models import OrderRequest
from chalicelib.orders.rules import invalid_field

MAX_START_AHEAD_DAYS = 366


def normalised_customer(request: OrderRequest, country: str) -> dict[str, object]:
    """The order's customer details normalised (e-mail, phone, organisation number checked for the
    country), or a ValidationFailedError naming every field at fault."""
    details = request.customer
    errors: list[FieldError] = []
    values: dict[str, object] = {
        "type": details.type,
        "name": details.name.strip(),
        "language": details.language,
    }
    customer_country = details.address.country if details.address else country
    values["country"] = customer_country
    values["address"] = details.address
    try:
        values["email"] = normalise_email(details.email)
    except InvalidIdentifierError as error:
        errors.append(error.to_field_error("customer.email"))
    if details.phone:
        try:
            values["phone"] = normalise_phone_number(details.phone, customer_country)
        except InvalidIdentifierError as error:
            errors.append(error.to_field_error("customer.phone"))
    if details.type == CustomerType.ORGANIZATION:
        if not details.org_number:
            errors.append(FieldError("customer.org_number", "an organisation needs its number", "missing"))
        else:
            try:
                values["org_number"] = normalise_organisation_number(details.org_number, customer_country)
            except InvalidIdentifierError as error:
                errors.append(error.to_field_error("customer.org_number"))
    elif details.org_number:
        errors.append(FieldError("customer.org_number", "only organisations have one", "not_allowed"))
    if errors:
        raise ValidationFailedError("the customer's details are not valid", errors)
    return values


def check_offer(
    request: OrderRequest,
    offer: Offer,
    plans: Mapping[str, Plan],
    products: Mapping[str, Product],
    today: date,
) -> date:
    """The day the ordered subscription starts, when ``offer`` takes this order today; else a
    ValidationFailedError naming the field."""
    if not offer.is_open_on(today):
        raise invalid_field("offer_id", "the offer is not open for orders today", "offer_closed")
    if request.payment_method not in offer.payment_methods:
        allowed = ", ".join(method.value for method in offer.payment_methods)
        raise invalid_field("payment_method", f"this offer takes {allowed}", "method_not_allowed")
    start = request.start_date or today
    if start < today:
        raise invalid_field("start_date", "a subscription cannot start in the past", "in_past")
    if start > today + timedelta(days=MAX_START_AHEAD_DAYS):
        raise invalid_field("start_date", "a subscription starts within a year", "too_far")
    missing = [ident for plan in plans.values() for ident in plan.product_ids if ident not in products]
    if missing:
        raise invalid_field(
            "offer_id", "the offer's plan names products that no longer exist", "broken_offer"
        )
    return start
