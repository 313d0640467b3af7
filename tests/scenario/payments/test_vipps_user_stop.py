"""Scenario: Kari's first invoice is paid through her Vipps agreement; then she stops the agreement in
the Vipps app. Abo learns it from the webhook (and Vipps' answer when asked), stops charging: no charge is
created at Vipps for the renewal, the agreement is stopped on both sides, and Kari is asked to pay the
renewal another way."""

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
    outbox,
    vipps_traffic_kept_to_the_spec,
    wait_for,
)


def test_a_user_stop_in_the_vipps_app_halts_charging(api: Api, stack: LocalStack) -> None:
    catalog = monthly_offer(api)
    placed = order(api, catalog["offer"]["id"], "vipps", "kari.stop@example.no", key="vipps-stop-1")
    redirect = placed["payment"]["redirect_url"]
    approve(redirect)
    wait_for(
        lambda: api.get(f"/v1/invoices/{placed['invoice_id']}").json()["status"] == "paid",
        what="the first invoice paid",
    )
    subscription = api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()
    agreement_id = subscription["agreement_id"]

    stopped = requests.post(f"{redirect}/stop", timeout=30)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "STOPPED"

    def setup_state() -> str | None:
        found = stack.services.payments.setup(agreement_id)
        return found[0].state.value if found and found[0].state.value == "stopped" else None

    wait_for(setup_state, what="the agreement stopped on our side")

    advance(api, "2027-01-31")

    assert stack.vipps is not None
    [agreement] = stack.vipps.agreements.values()
    assert agreement.status == "STOPPED"
    assert [c.type for c in stack.vipps.charges.values()] == ["INITIAL"]
    creates = [r for r in stack.vipps.requests if r[0] == "POST" and r[1].endswith("/charges")]
    assert creates == []
    setup = stack.services.payments.setup(agreement_id)
    assert setup is not None and setup[0].state.value == "stopped"
    [renewal] = [
        inv
        for inv in invoices(api, placed["customer_id"])
        if inv["id"] != placed["invoice_id"] and inv["status"] != "draft"
    ]
    assert (renewal["due_date"], renewal["status"]) == ("2027-02-01", "issued")
    flagged = api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()
    assert (flagged["status"], flagged["agreement_status"]) == ("active", "stopped")
    listed = api.get(f"/v1/customers/{placed['customer_id']}/subscriptions").json()["items"]
    assert [s["agreement_status"] for s in listed] == ["stopped"]
    assert stack.services.payments.charge(renewal["id"]) is None
    key = f"payments:{renewal['id']}:agreement-stopped"
    mails = wait_for(
        lambda: [m for m in outbox(stack) if m.key == key] or None,
        what=f"the e-mail {key}; sent: {[m.key for m in outbox(stack)]}",
    )
    assert [m.to for m in mails] == ["kari.stop@example.no"]
    assert str(renewal["number"]) in mails[0].subject
    assert vipps_traffic_kept_to_the_spec(stack) > 0
