"""Reading subscriptions and invoices (admin)."""

from __future__ import annotations

from chalicelib.api.routing import Call, Router
from chalicelib.api.views import InvoiceView, SubscriptionView, invoice_view, subscription_view

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
