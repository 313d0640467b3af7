"""Scenario: Kari orders with Vipps, approves the agreement in the app, her first invoice is paid by the
initial charge (access follows), and three monthly renewals are charged two days before they are due,
settled by Vipps on the due date and paid in the ledger, each exactly once."""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.support.payments import advance, approve, invoices, monthly_offer, order, wait_for


def test_vipps_order_approved_then_three_renewals_paid(api: Api, stack: LocalStack) -> None:
    catalog = monthly_offer(api)
    placed = order(api, catalog["offer"]["id"], "vipps", "kari.vipps@example.no", key="vipps-order-1")
    redirect = placed["payment"]["redirect_url"]
    assert stack.vipps is not None
    assert redirect.startswith(f"{stack.vipps.public_url}/simulator/agreements/agr_")
    assert placed["payment"]["status"] == "awaiting_provider"
    # The shop retries: same order, same confirmation URL, one agreement at Vipps.
    assert order(api, catalog["offer"]["id"], "vipps", "kari.vipps@example.no", key="vipps-order-1") == placed
    assert len(stack.vipps.agreements) == 1
    subscription = api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()
    assert subscription["status"] == "pending"

    approve(redirect)

    first = wait_for(
        lambda: (inv := api.get(f"/v1/invoices/{placed['invoice_id']}").json())["status"] == "paid" and inv,
        what="the first invoice paid",
    )
    assert first["open_amount"]["amount"] == 0
    subscription = api.get(f"/v1/subscriptions/{placed['subscription_id']}").json()
    assert subscription["status"] == "active"
    access = api.get(
        f"/v1/access?customer_id={placed['customer_id']}&product_id={catalog['product']['id']}"
    ).json()
    assert (access["access"], access["valid_until"]) == (True, "2027-02-01")

    for day in ("2027-02-02", "2027-03-02", "2027-04-02"):
        advance(api, day)

    issued = invoices(api, placed["customer_id"])
    renewals = [inv for inv in issued if inv["id"] != placed["invoice_id"] and inv["status"] != "draft"]
    assert [(inv["due_date"], inv["status"]) for inv in renewals] == [
        ("2027-02-01", "paid"),
        ("2027-03-01", "paid"),
        ("2027-04-01", "paid"),
    ]
    charges = [c for c in stack.vipps.charges.values() if c.type == "RECURRING"]
    assert sorted((c.due.isoformat(), c.status, c.amount) for c in charges) == [
        ("2027-02-01", "CHARGED", 29900),
        ("2027-03-01", "CHARGED", 29900),
        ("2027-04-01", "CHARGED", 29900),
    ]
    ledger = api.get(f"/v1/customers/{placed['customer_id']}/ledger").json()
    assert ledger["balance"]["amount"] == 0
