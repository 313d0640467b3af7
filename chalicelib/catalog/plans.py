"""Reading plans together with every plan they hand over to (``next_plan_id``), in rounds of BatchGetItem."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.catalog.models import Plan, Product
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore


class MissingPlanError(LookupError):
    """A plan that is referenced no longer exists."""


def load_plan_chain(store: DocumentStore, plan_ids: Iterable[str]) -> dict[str, Plan]:
    """The plans named and every plan reachable through ``next_plan_id`` (one round per hop)."""
    plans: dict[str, Plan] = {}
    wanted = set(plan_ids)
    while wanted:
        found = store.batch_get((keys.plan(ident).pk, "PLAN") for ident in wanted)
        plans.update({plan.id: plan for plan in (item.document(Plan) for item in found.values())})
        missing = wanted - set(plans)
        if missing:
            raise MissingPlanError(", ".join(sorted(missing)))
        wanted = {p.next_plan_id for p in plans.values() if p.next_plan_id and p.next_plan_id not in plans}
    return plans


def load_products(
    store: DocumentStore, plans: Iterable[Plan], known: Iterable[str] = ()
) -> dict[str, Product]:
    """Every product of ``plans`` (usage products too) not in ``known``, in one BatchGetItem per hundred."""
    listed = list(plans)
    product_ids = {ident for plan in listed for ident in plan.product_ids}
    product_ids |= {price.product_id for plan in listed for price in plan.usage}
    product_ids -= set(known)
    found = store.batch_get((keys.product(ident).pk, "PRODUCT") for ident in product_ids)
    return {product.id: product for product in (item.document(Product) for item in found.values())}
