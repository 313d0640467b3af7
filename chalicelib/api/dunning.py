"""Dunning plans, reminders on demand, disputes and an invoice's dunning case (admin)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import MoneyModel, QueryModel, RequestModel, ResponseModel
from chalicelib.customers.models import CustomerType
from chalicelib.dunning.plans import StepAnchor, StepKind
from chalicelib.money import Currency
from chalicelib.values import PaymentMethod

router = Router("dunning", tag="dunning")


class FeeIn(RequestModel):
    """A fee in minor units; the plan's currency when absent."""

    amount: Annotated[StrictInt, Field(ge=0, le=10_000_000)]
    currency: Currency | None = None


class StepIn(RequestModel):
    """One step of a plan."""

    key: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    kind: StepKind
    days: Annotated[StrictInt, Field(ge=0, le=3650)]
    after: StepAnchor = StepAnchor.DUE_DATE
    fee: FeeIn | None = None
    deadline_days: Annotated[StrictInt, Field(ge=1, le=365)] | None = None


class DunningPlanCreate(RequestModel):
    """A dunning plan of one legal entity, checked against the legal limits of its country."""

    legal_entity_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    country: Annotated[str, Field(min_length=2, max_length=2)] = "NO"
    currency: Currency = Currency.NOK
    customer_type: CustomerType | None = Field(
        default=None, description="person or organization; any if absent"
    )
    payment_methods: Annotated[list[PaymentMethod], Field(max_length=10)] = Field(
        default_factory=list, description="the methods the plan applies to; any if empty"
    )
    steps: Annotated[list[StepIn], Field(min_length=1, max_length=20)]
    card_retry_days: Annotated[list[Annotated[StrictInt, Field(ge=0, le=60)]], Field(max_length=10)] = Field(
        default_factory=lambda: [3, 5, 7]
    )
    late_interest: StrictBool = False
    fees_agreed_in_advance: StrictBool = False
    default: StrictBool = Field(default=False, description="the plan used when no other plan matches")


class StepView(ResponseModel):
    """One step of a plan."""

    key: str
    kind: StepKind
    days: int
    after: StepAnchor
    fee: MoneyModel | None
    deadline_days: int | None


class DunningPlanView(ResponseModel):
    """A stored dunning plan, or a country's standard plan (``standard``: every seller's until it stores a
    plan that covers every invoice; read by its id it belongs to no entity)."""

    id: str
    legal_entity_id: str | None
    name: str
    country: str
    currency: Currency
    customer_type: str | None
    payment_methods: list[PaymentMethod]
    steps: list[StepView]
    card_retry_days: list[int]
    late_interest: bool
    fees_agreed_in_advance: bool
    default: bool
    standard: bool = Field(description="the country's standard plan, not stored")
    created_at: datetime


class DunningPlanList(ResponseModel):
    """Dunning plans, by legal entity and creation."""

    items: list[DunningPlanView]


class PlanQuery(QueryModel):
    """Which plans to list."""

    legal_entity_id: str | None = None


class LetterView(ResponseModel):
    """A reminder or collection notice sent for the invoice."""

    key: str
    kind: StepKind
    sent_on: date
    amount: MoneyModel
    fee: MoneyModel | None
    deadline: date
    fee_invoice_id: str | None
    fee_invoice_number: int | None
    fee_kid: str | None
    delivery: str | None


class DunningCaseView(ResponseModel):
    """An invoice's dunning: where it stands, what was done and when."""

    invoice_id: str
    status: str
    plan_id: str | None
    due_date: date
    next_on: date | None
    failed_charge_on: date | None
    done: dict[str, date]
    letters: list[LetterView]
    dispute_reason: str | None
    closed_reason: str | None
    handed_over_on: date | None


class ReminderCreate(RequestModel):
    """A reminder now; with the plan's reminder fee if ``with_fee`` (and the law allows one today)."""

    with_fee: StrictBool = False


class DisputeUpdate(RequestModel):
    """Whether the customer disputes the claim (dunning pauses while it does)."""

    disputed: StrictBool
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


def _plan_view(stored: object) -> DunningPlanView:
    from chalicelib.dunning.plan_store import StoredPlan

    assert isinstance(stored, StoredPlan)
    plan = stored.plan
    return DunningPlanView(
        id=plan.id,
        legal_entity_id=stored.legal_entity_id,
        name=plan.name,
        country=plan.country,
        currency=plan.currency,
        customer_type=plan.customer_type,
        payment_methods=list(plan.payment_methods),
        steps=[
            StepView(
                key=step.key,
                kind=step.kind,
                days=step.days,
                after=step.after,
                fee=MoneyModel.of(step.fee) if step.fee is not None else None,
                deadline_days=step.deadline_days,
            )
            for step in plan.steps
        ],
        card_retry_days=list(plan.card_retry_days),
        late_interest=plan.late_interest,
        fees_agreed_in_advance=plan.fees_agreed_in_advance,
        default=stored.default,
        standard=stored.standard,
        created_at=stored.created_at,
    )


def _case_view(case: object) -> DunningCaseView:
    from chalicelib.dunning.index import DunningCase
    from chalicelib.money import Money

    assert isinstance(case, DunningCase)
    return DunningCaseView(
        invoice_id=case.invoice_id,
        status=case.status.value,
        plan_id=case.plan_id,
        due_date=case.due_date,
        next_on=case.next_on,
        failed_charge_on=case.failed_charge_on,
        done=dict(case.done),
        letters=[
            LetterView(
                key=letter.key,
                kind=letter.kind,
                sent_on=letter.sent_on,
                amount=MoneyModel.of(Money(letter.amount, case.currency)),
                fee=MoneyModel.of(Money(letter.fee, case.currency)) if letter.fee else None,
                deadline=letter.deadline,
                fee_invoice_id=letter.fee_invoice_id,
                fee_invoice_number=letter.fee_invoice_number,
                fee_kid=letter.fee_kid,
                delivery=letter.delivery,
            )
            for letter in case.letters
        ],
        dispute_reason=case.dispute_reason,
        closed_reason=case.closed_reason,
        handed_over_on=case.handed_over_on,
    )


@router.route(
    "POST",
    "/v1/dunning-plans",
    summary="Create a dunning plan (refused when it breaks the legal limits of its country)",
    status=201,
    body=DunningPlanCreate,
    response=DunningPlanView,
    idempotent=True,
    problems=(409, 422),
)
def create_dunning_plan(call: Call) -> DunningPlanView:
    """Validated against the legal limits (fees, deadlines, notice before hand-off) of today."""
    from chalicelib.dunning.plan_store import new_plan_id
    from chalicelib.dunning.plans import DunningPlan, DunningStep
    from chalicelib.money import Money

    request = call.body(DunningPlanCreate)
    plan = DunningPlan(
        id=new_plan_id(),
        name=request.name,
        country=request.country.upper(),
        currency=request.currency,
        customer_type=request.customer_type.value if request.customer_type else None,
        payment_methods=tuple(request.payment_methods),
        steps=tuple(
            DunningStep(
                key=step.key,
                kind=step.kind,
                days=step.days,
                after=step.after,
                fee=Money(step.fee.amount, step.fee.currency or request.currency) if step.fee else None,
                deadline_days=step.deadline_days,
            )
            for step in request.steps
        ),
        card_retry_days=tuple(request.card_retry_days),
        late_interest=request.late_interest,
        fees_agreed_in_advance=request.fees_agreed_in_advance,
    )
    service = call.services.dunning.service
    return _plan_view(service.create_plan(request.legal_entity_id, plan, request.default))


@router.route(
    "GET",
    "/v1/dunning-plans",
    summary="List dunning plans (of one legal entity: those in effect, its country's standard plan included)",
    query=PlanQuery,
    response=DunningPlanList,
)
def list_dunning_plans(call: Call) -> DunningPlanList:
    """Every stored plan, or one legal entity's plans in effect."""
    query = call.query(PlanQuery)
    plans = call.services.dunning.service.plans(query.legal_entity_id)
    return DunningPlanList(items=[_plan_view(plan) for plan in plans])


@router.route(
    "GET",
    "/v1/dunning-plans/{id}",
    summary="Read a dunning plan (a stored one, or a standard plan by its id)",
    response=DunningPlanView,
    problems=(404,),
)
def get_dunning_plan(call: Call) -> DunningPlanView:
    """One plan."""
    return _plan_view(call.services.dunning.service.plan(call.path["id"]))


@router.route(
    "POST",
    "/v1/invoices/{id}/reminders",
    summary="Send a reminder for an overdue invoice now (one a day)",
    status=201,
    body=ReminderCreate,
    response=DunningCaseView,
    idempotent=True,
    problems=(404, 409, 422),
)
def send_reminder(call: Call) -> DunningCaseView:
    """A reminder in the customer's language; its key is ``dunning:<invoice>:manual-<day>``."""
    request = call.body(ReminderCreate)
    result = call.services.dunning.service.remind(call.path["id"], request.with_fee)
    return _case_view(result.case)


@router.route(
    "GET",
    "/v1/invoices/{id}/dunning",
    summary="Read an invoice's dunning: status, steps taken, letters",
    response=DunningCaseView,
    problems=(404,),
)
def get_dunning_case(call: Call) -> DunningCaseView:
    """The invoice's dunning case."""
    return _case_view(call.services.dunning.service.case(call.path["id"]))


@router.route(
    "PUT",
    "/v1/invoices/{id}/dispute",
    summary="Mark an invoice disputed (dunning pauses) or lift the dispute",
    body=DisputeUpdate,
    response=DunningCaseView,
    problems=(404, 409),
)
def set_dispute(call: Call) -> DunningCaseView:
    """Disputed invoices leave the dunning run until the dispute is lifted."""
    request = call.body(DisputeUpdate)
    case = call.services.dunning.service.dispute(call.path["id"], request.disputed, request.reason)
    return _case_view(case)
