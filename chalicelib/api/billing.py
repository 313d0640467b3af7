"""Reading subscriptions and invoices (admin)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, Field, StrictInt

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import RequestModel, ResponseModel
from chalicelib.api.views import InvoiceView, PeriodView, SubscriptionView, invoice_view, subscription_view
from chalicelib.errors import FieldError, ValidationFailedError
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
    return subscription_view(
        found.subscription, found.plan_id, found.current_period, found.draft, found.agreement_status
    )


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
    credit_note = call.services.credit_notes.issue(call.path["id"], request.lines)
    call.services.payment_flows.refund.refund_after_credit_note(credit_note)
    return invoice_view(credit_note)


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
    call.services.stop_subscription.stop(call.path["id"], request.effective, request.reason)
    found = call.services.subscriptions.subscription(call.path["id"])
    return subscription_view(
        found.subscription, found.plan_id, found.current_period, found.draft, found.agreement_status
    )


def _view(call: Call, subscription_id: str) -> SubscriptionView:
    found = call.services.subscriptions.subscription(subscription_id)
    return subscription_view(
        found.subscription, found.plan_id, found.current_period, found.draft, found.agreement_status
    )


class ChangeRequest(RequestModel):
    """A new plan, a new quantity, or both."""

    plan_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    quantity: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    effective: StopWhen = Field(
        default=StopWhen.NOW,
        description="now: from the end of today (local), by the plan's proration; period_end: next period",
    )


@router.route(
    "POST",
    "/v1/subscriptions/{id}/change",
    summary="Change a subscription's plan or quantity, now or at period end",
    body=ChangeRequest,
    response=SubscriptionView,
    idempotent=True,
    problems=(404, 409),
)
def change_subscription(call: Call) -> SubscriptionView:
    """Invoiced time is restated by the plan's proration: credit notes, then one invoice for what is owed."""
    request = call.body(ChangeRequest)
    call.services.change_subscription.change(
        call.path["id"], request.plan_id, request.quantity, request.effective
    )
    return _view(call, call.path["id"])


class PauseRequest(RequestModel):
    """The pause's first day and the day billing resumes (open-ended when absent)."""

    from_: date = Field(alias="from", description="the first paused day: tomorrow at the earliest")
    until: date | None = Field(default=None, description="the first day after the pause")


@router.route(
    "POST",
    "/v1/subscriptions/{id}/pause",
    summary="Pause a subscription: paused days are not invoiced, paid ones are credited",
    body=PauseRequest,
    response=SubscriptionView,
    idempotent=True,
    problems=(404, 409),
)
def pause_subscription(call: Call) -> SubscriptionView:
    """Pause from a day (until a day, or until resumed)."""
    request = call.body(PauseRequest)
    call.services.pause_subscription.pause(call.path["id"], request.from_, request.until)
    return _view(call, call.path["id"])


@router.route(
    "POST",
    "/v1/subscriptions/{id}/resume",
    summary="Resume a paused subscription from tomorrow",
    response=SubscriptionView,
    idempotent=True,
    problems=(404, 409),
)
def resume_subscription(call: Call) -> SubscriptionView:
    """End the pause at the end of today; a pause not started yet is removed."""
    call.services.pause_subscription.resume(call.path["id"])
    return _view(call, call.path["id"])


class UsageCreate(RequestModel):
    """A quantity of a metric used by a subscription at a moment."""

    subscription_id: Annotated[str, Field(min_length=1, max_length=64)]
    metric: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000_000)]
    at: AwareDatetime = Field(description="when it was used; its local date decides the billing period")


class UsageView(ResponseModel):
    """A recorded usage report and its period's total so far."""

    subscription_id: str
    metric: str
    quantity: int
    at: date
    period: PeriodView
    period_quantity: int
    invoiced: bool


@router.route(
    "POST",
    "/v1/usage",
    summary="Report usage, billed in arrears on the next invoice (Idempotency-Key required)",
    status=201,
    body=UsageCreate,
    response=UsageView,
    idempotent=True,
    problems=(404, 409),
)
def report_usage(call: Call) -> UsageView:
    """Counted once per Idempotency-Key, even beyond the idempotency window."""
    request = call.body(UsageCreate)
    key = call.request.headers.get("idempotency-key") if call.request.headers else None
    if not key:
        raise ValidationFailedError(
            "usage needs an Idempotency-Key header",
            [FieldError("Idempotency-Key", "required for usage", "missing", location="header")],
        )
    recorded = call.services.usage.record(
        key, request.subscription_id, request.metric, request.quantity, request.at
    )
    counter = recorded.counter
    return UsageView(
        subscription_id=counter.subscription_id,
        metric=counter.metric,
        quantity=recorded.event.quantity,
        at=recorded.event.at,
        period=PeriodView(start=counter.period.start, end=counter.period.end),
        period_quantity=counter.quantity,
        invoiced=counter.invoice_id is not None,
    )
