"""A dunning plan asking for a reminder fee above the Norwegian maximum (NOK 35) is refused with a 422
problem naming the step, the limit and its source; nothing is stored."""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.billing.conftest import Catalog
from tests.scenario.conftest import Api
from tests.scenario.dunning.conftest import NO_PLAN


def test_a_fee_above_the_legal_limit_is_refused(stack: LocalStack, api: Api) -> None:
    Catalog(api, billing_only=False)
    seller_id = api.get("/v1/legal-entities").json()["items"][0]["id"]
    steps = [dict(step) for step in NO_PLAN["steps"]]
    steps[0]["fee"] = {"amount": 5000}
    response = api.post("/v1/dunning-plans", {**NO_PLAN, "steps": steps, "legal_entity_id": seller_id})
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "https://abo.dev/problems/validation-error"
    assert problem["status"] == 422
    assert problem["errors"] == [
        {
            "field": "steps[0].fee",
            "in": "body",
            "code": "above_legal_limit",
            "message": "50.00 NOK is above the legal maximum of 35.00 NOK for a reminder in NO "
            "(inkassosats NOK 750 from 1 Jan 2026 (kred.no, blog.amili.no); fee cap kept at NOK 35)",
        }
    ]
    assert api.get("/v1/dunning-plans").json() == {"items": []}
