"""Dunning plans as stored per legal entity, and the one rule of which plan a case follows.

Plans are stored per legal entity (``DUNNINGPLAN#<id>`` / ``PLAN``, listed on gsi1 ``DUNNINGPLANS`` by
entity and creation). A plan applies to a customer type (person, organization) and/or payment methods; the
most specific plan that matches an invoice is used (payment method over customer type, then the entity's
default, then the newest), and the case keeps the plan it started with. Where none of its plans matches,
its country's standard plan applies (never stored; see :func:`effective_dunning_plan`, the one rule every
reader of plans uses).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from chalicelib.customers.models import Customer
from chalicelib.dunning.index import DunningCase
from chalicelib.dunning.limits import DEFAULT_LIMITS, LimitsTable, UnknownDunningLimitError
from chalicelib.dunning.plans import DunningPlan, parse_standard_plan_id, standard_plan, standard_plan_of_id
from chalicelib.ids import new_id
from chalicelib.store.documents import DocumentStore, Keys
from chalicelib.values import Document, PaymentMethod

PLANS_LIST = "DUNNINGPLANS"


class StoredPlan(Document):
    """A dunning plan of one legal entity, as configured; or (``standard``) its country's standard plan,
    never stored, which applies where none of the entity's own plans does."""

    plan: DunningPlan
    legal_entity_id: str | None
    default: bool = False
    created_at: datetime
    standard: bool = False


def plan_keys(plan_id: str, legal_entity_id: str | None = None, created_at: datetime | None = None) -> Keys:
    """Where a plan lives, listed by entity and creation."""
    listed = (
        (PLANS_LIST, f"{legal_entity_id}#{created_at.isoformat()}#{plan_id}")
        if legal_entity_id and created_at
        else None
    )
    return Keys(f"DUNNINGPLAN#{plan_id}", "PLAN", gsi1=listed)


def default_plan_lookup(legal_entity_id: str) -> str:
    """The lookup item that makes an entity's default plan unique."""
    return f"DUNNINGDEFAULT#{legal_entity_id}"


def select_plan(plans: Sequence[StoredPlan], customer_type: str, method: PaymentMethod) -> StoredPlan | None:
    """The plan for an invoice of a customer type paid by ``method``: the most specific match (payment
    method counts more than customer type), then the default, then the newest. Pure."""
    best: tuple[tuple[int, int, str], StoredPlan] | None = None
    for stored in plans:
        plan = stored.plan
        if plan.customer_type is not None and plan.customer_type != customer_type:
            continue
        if plan.payment_methods and method not in plan.payment_methods:
            continue
        score = (2 if plan.payment_methods else 0) + (1 if plan.customer_type else 0)
        rank = (score, 1 if stored.default else 0, stored.created_at.isoformat())
        if best is None or rank > best[0]:
            best = (rank, stored)
    return best[1] if best else None


def covers_everything(stored: StoredPlan) -> bool:
    """True if a plan matches every invoice (no customer type, no payment methods): then the standard plan
    never applies to its entity."""
    return stored.plan.customer_type is None and not stored.plan.payment_methods


def standard_stored_plan(
    legal_entity_id: str | None, country: str, on: date, limits: LimitsTable
) -> StoredPlan | None:
    """The standard plan of ``country`` for a claim due on ``on`` (None where its limits are unknown), as
    the plan of ``legal_entity_id``."""
    try:
        plan = standard_plan(country, on, limits)
    except UnknownDunningLimitError:
        return None
    return as_stored_plan(plan, legal_entity_id)


def as_stored_plan(plan: DunningPlan, legal_entity_id: str | None) -> StoredPlan:
    """A standard plan as the plan of ``legal_entity_id`` (its default, never stored)."""
    parsed = parse_standard_plan_id(plan.id)
    # "Created" when the limits it follows became valid: a fixed date, so reads repeat exactly.
    valid_from = parsed[1] if parsed is not None else date.min
    return StoredPlan(
        plan=plan,
        legal_entity_id=legal_entity_id,
        default=True,
        created_at=datetime.combine(valid_from, datetime.min.time(), UTC),
        standard=True,
    )


def effective_dunning_plan(
    plans: Sequence[StoredPlan],
    case: DunningCase,
    customer_type: str,
    country: str,
    limits: LimitsTable = DEFAULT_LIMITS,
) -> StoredPlan | None:
    """The plan a case follows, the one rule every reader of plans uses: the plan it started with; else
    the seller's own plan that matches best (:func:`select_plan`); else the standard plan of the seller's
    ``country`` for the invoice's due date. None where the plan it started with is gone or no limits are
    known for the country on the due date. Pure."""
    if case.plan_id is not None:
        started = next((p for p in plans if p.plan.id == case.plan_id), None)
        if started is not None:
            return started
        standard = standard_plan_of_id(case.plan_id, limits)
        return as_stored_plan(standard, case.legal_entity_id) if standard is not None else None
    own = select_plan(plans, customer_type, case.payment_method)
    if own is not None:
        return own
    return standard_stored_plan(case.legal_entity_id, country, case.due_date, limits)


class PlanStore:
    """Reads plans; caches one entity's plans for the life of the object (one work item, one request)."""

    def __init__(self, store: DocumentStore, limits: LimitsTable = DEFAULT_LIMITS) -> None:
        self._store = store
        self._limits = limits
        self._by_entity: dict[str, list[StoredPlan]] = {}

    def for_entity(self, legal_entity_id: str) -> list[StoredPlan]:
        """Every plan of an entity (one query)."""
        if legal_entity_id not in self._by_entity:
            plans: list[StoredPlan] = []
            cursor: str | None = None
            while True:
                page = self._store.query(PLANS_LIST, f"{legal_entity_id}#", index="gsi1", cursor=cursor)
                plans += [item.document(StoredPlan) for item in page.items if item.doc is not None]
                cursor = page.next_cursor
                if cursor is None:
                    break
            self._by_entity[legal_entity_id] = plans
        return self._by_entity[legal_entity_id]

    def all(self) -> list[StoredPlan]:
        """Every plan of every entity, by entity and creation."""
        plans: list[StoredPlan] = []
        cursor: str | None = None
        while True:
            page = self._store.query(PLANS_LIST, index="gsi1", cursor=cursor)
            plans += [item.document(StoredPlan) for item in page.items if item.doc is not None]
            cursor = page.next_cursor
            if cursor is None:
                return plans

    def for_case(self, case: DunningCase, customer: Customer, country: str) -> StoredPlan | None:
        """The plan a case follows (:func:`effective_dunning_plan`); ``country`` is the seller's."""
        plans = self.for_entity(case.legal_entity_id)
        return effective_dunning_plan(plans, case, customer.type.value, country, self._limits)


def new_plan_id() -> str:
    """A fresh plan id."""
    return new_id("dpl")
