"""Scenario: Kari's first invoice is paid through Vipps; the seller credits it in full. The credit note
pays the money back through Vipps (the charge is REFUNDED there, once, even when the shop repeats the
request) and the ledger books the refund: her balance is back to zero."""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.support.payments import (
    approve,
    monthly_offer,
    order,
    vipps_traffic_kept_to_the_spec,
    wait_for,
)


def test_a_credit_note_on_a_vipps_paid_invoice_is_refunded_through_vipps(api: Api, stack: LocalStack) -> None:
    catalog = monthly_offer(api)
    placed = order(api, catalog["offer"]["id"], "vipps", "kari.refund@example.no", key="refund-order-1")
    approve(placed["payment"]["redirect_url"])
    wait_for(
        lambda: api.get(f"/v1/invoices/{placed['invoice_id']}").json()["status"] == "paid",
        what="the first invoice paid",
    )
    assert stack.vipps is not None
    [initial] = [c for c in stack.vipps.charges.values() if c.type == "INITIAL"]
    assert (initial.status, initial.captured) == ("CHARGED", 29900)

    body: dict[str, object] = {}
    response = api.post(f"/v1/invoices/{placed['invoice_id']}/credit-note", body, key="credit-1")
    assert response.status_code == 201, response.text
    credit_note = response.json()
    assert credit_note["kind"] == "credit_note"
    # The shop retries: the same credit note, no second refund.
    again = api.post(f"/v1/invoices/{placed['invoice_id']}/credit-note", body, key="credit-1")
    assert again.status_code == 201 and again.json()["id"] == credit_note["id"]

    assert (initial.status, initial.captured, initial.refunded) == ("REFUNDED", 29900, 29900)
    refunds = [event for event in initial.history if event["event"] == "REFUND"]
    assert [(event["amount"], event["success"]) for event in refunds] == [(29900, True)]
    record = stack.services.payments.refund_record(credit_note["id"])
    assert record is not None and record[0].state == "done" and record[0].amount == 29900

    ledger = api.get(f"/v1/customers/{placed['customer_id']}/ledger").json()
    kinds = [entry["kind"] for entry in ledger["entries"]]
    assert kinds.count("refund") == 1
    [refund] = [entry for entry in ledger["entries"] if entry["kind"] == "refund"]
    assert refund["amount"]["amount"] == 29900
    assert ledger["balance"]["amount"] == 0
    assert ledger["credit"]["amount"] == 0
    # The refund webhook, worked like any other, changes nothing more.
    stack.vipps.wait_for_webhooks(timeout=30)
    assert wait_for(lambda: vipps_traffic_kept_to_the_spec(stack) > 0, what="validated Vipps traffic")
