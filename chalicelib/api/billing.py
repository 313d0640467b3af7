"""Reading subscriptions and invoices (admin)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import RequestModel
from chalicelib.api.views import InvoiceView, SubscriptionView, invoice_view, subscription_view
from chalicelib.subscriptions.models import StopWhen

router = Router("billing", tag="billing")


@router.route(
    "GET",
    "/v1/subscriptions/{id}",
    summary="Read a subscription and its next invoice's draft",
    response=SubscriptionView,
    problems=(404,),
)
def get_subscription(call: Call) -> SubscriptionView:
    """A subscription with the draft of its next invoice."""
    found = call.services.subscriptions.subscription(call.path["id"])
    return subscription_view(found.subscription, found.plan_id, found.current_period, found.draft)


@router.route(
    "GET",
    "/v1/invoices/{id}",
    summary="Read an invoice, draft or credit note",
    response=InvoiceView,
    problems=(404,),
)
def get_invoice(call: Call) -> InvoiceView:
    """One invoice."""
    return invoice_view(call.services.subscriptions.invoice(call.path["id"]))


class CreditNoteCreate(RequestModel):
    """Which lines to credit: all of them when ``lines`` is absent."""

    lines: Annotated[list[Annotated[StrictInt, Field(ge=1)]], Field(min_length=1, max_length=500)] | None = (
        Field(default=None, description="Line numbers of the invoice, 1 for the first; all lines when absent")
    )


@router.route(
    "POST",
    "/v1/invoices/{id}/credit-note",
    summary="Credit an invoice, or some of its lines",
    status=201,
    body=CreditNoteCreate,
    response=InvoiceView,
    idempotent=True,
    problems=(404, 409),
)
def create_credit_note(call: Call) -> InvoiceView:
    """A numbered credit note referencing the invoice; the ledger credits it in the same transaction."""
    request = call.body(CreditNoteCreate)
    return invoice_view(call.services.credit_notes.issue(call.path["id"], request.lines))


class StopRequest(RequestModel):
    """When the stop takes effect."""

    effective: StopWhen = Field(default=StopWhen.PERIOD_END, description="now: at the end of today (local)")
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


@router.route(
    "POST",
    "/v1/subscriptions/{id}/stop",
    summary="Stop a subscription now or at period end",
    body=StopRequest,
    response=SubscriptionView,
    idempotent=True,
    problems=(404, 409),
)
def stop_subscription(call: Call) -> SubscriptionView:
    """Stop; unused invoiced time is credited (by the plan's proration), and access ends with it."""
    request = call.body(StopRequest)
    call.services.stops.stop(call.path["id"], request.effective, request.reason)
    found = call.services.subscriptions.subscription(call.path["id"])
    return subscription_view(found.subscription, found.plan_id, found.current_period, found.draft)
