"""Scenario: Nils pays his first invoice on our page with a card that always needs authentication
(``pm_card_authenticationRequired``; he completes 3-D Secure). A month later the renewal is charged off
session and the bank asks for authentication again: the charge fails with ``authentication_required``,
the link where he can pay it on session is recorded, dunning starts, and he gets an e-mail with the link."""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.support.payments import (
    advance,
    invoices,
    monthly_offer,
    order,
    outbox,
    pay_on_page,
    vipps_traffic_kept_to_the_spec,
    wait_for,
)


def test_an_off_session_card_that_needs_authentication_reaches_the_customer(
    api: Api, stack: LocalStack
) -> None:
    catalog = monthly_offer(api)
    placed = order(api, catalog["offer"]["id"], "card", "nils.3ds@example.no", key="card-3ds-1")
    confirmed = pay_on_page(stack, placed["payment"]["redirect_url"], "pm_card_authenticationRequired")
    assert confirmed["status"] == "succeeded"
    wait_for(
        lambda: api.get(f"/v1/invoices/{placed['invoice_id']}").json()["status"] == "paid",
        what="the first invoice paid",
    )

    advance(api, "2027-02-01")

    [renewal] = [
        inv
        for inv in invoices(api, placed["customer_id"])
        if inv["id"] != placed["invoice_id"] and inv["status"] != "draft"
    ]
    assert (renewal["due_date"], renewal["status"], renewal["open_amount"]["amount"]) == (
        "2027-02-01",
        "issued",
        29900,
    )
    found = stack.services.payments.charge(renewal["id"])
    assert found is not None
    record = found[0]
    assert stack.stripe is not None
    assert (record.state, record.failure_reason, record.decline_code) == (
        "failed",
        "authentication_required",
        "authentication_required",
    )
    assert record.charge_ref is not None and record.charge_ref.startswith("pi_")
    assert record.customer_action_url == f"{stack.stripe.base_url}/pay/{record.charge_ref}"

    dunning = api.get(f"/v1/invoices/{renewal['id']}/dunning")
    assert dunning.status_code == 200, dunning.text
    assert dunning.json()["failed_charge_on"] == "2027-02-01"

    mails = [mail for mail in outbox(stack) if mail.to == "nils.3ds@example.no"]
    [action] = [mail for mail in mails if mail.key == f"payments:{renewal['id']}:action-required"]
    assert record.customer_action_url in action.text
    assert str(renewal["number"]) in action.subject
    assert vipps_traffic_kept_to_the_spec(stack) == 0  # a card order never calls Vipps
