"""Scenario: Kari's Vipps agreement is active and her first invoice paid. The renewal's charge is
created at least a day before it is due; on the due date Vipps fails it (``user_action_required``,
injected through the simulator). The failure reaches dunning: the invoice stays open and its dunning case
records the failed charge on the due date."""

from __future__ import annotations

import requests

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.support.payments import (
    advance,
    approve,
    invoices,
    monthly_offer,
    order,
    vipps_traffic_kept_to_the_spec,
    wait_for,
)


def test_a_failed_vipps_charge_reaches_dunning(api: Api, stack: LocalStack) -> None:
    catalog = monthly_offer(api)
    placed = order(api, catalog["offer"]["id"], "vipps", "kari.failed@example.no", key="vipps-fail-1")
    approve(placed["payment"]["redirect_url"])
    wait_for(
        lambda: api.get(f"/v1/invoices/{placed['invoice_id']}").json()["status"] == "paid",
        what="the first invoice paid",
    )

    advance(api, "2027-01-31")
    assert stack.vipps is not None
    [charge] = [c for c in stack.vipps.charges.values() if c.type == "RECURRING"]
    assert (charge.due.isoformat(), charge.status) == ("2027-02-01", "PENDING")
    failed = requests.post(
        f"{stack.vipps.public_url}/simulator/charges/{charge.id}/fail",
        json={"failureReason": "user_action_required"},
        timeout=30,
    )
    assert failed.status_code == 200, failed.text

    advance(api, "2027-02-02")

    assert (charge.status, charge.failure_reason) == ("FAILED", "user_action_required")
    [renewal] = [
        inv
        for inv in invoices(api, placed["customer_id"])
        if inv["id"] != placed["invoice_id"] and inv["status"] != "draft"
    ]
    assert charge.external_id == renewal["id"]
    assert (renewal["status"], renewal["open_amount"]["amount"]) == ("issued", 29900)
    record = stack.services.payments.charge(renewal["id"])
    assert record is not None
    assert (record[0].state, record[0].failure_reason) == ("failed", "user_action_required")
    dunning = api.get(f"/v1/invoices/{renewal['id']}/dunning")
    assert dunning.status_code == 200, dunning.text
    case = dunning.json()
    assert (case["invoice_id"], case["status"], case["failed_charge_on"]) == (
        renewal["id"],
        "active",
        "2027-02-01",
    )
    assert [c for c in stack.vipps.charges.values() if c.type == "RECURRING"] == [charge]
    assert vipps_traffic_kept_to_the_spec(stack) > 0
