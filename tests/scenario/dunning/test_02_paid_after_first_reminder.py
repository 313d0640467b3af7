"""An invoice paid after the first reminder: one OCR giro payment of what the reminder asks for, to the
invoice's KID, pays the invoice and settles the reminder fee; dunning stops there."""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.scenario.dunning.conftest import PRICE, advance, case, invoice, order, outbox, pay_by_giro, shop


def test_payment_after_the_first_reminder_stops_dunning_and_settles_the_fee(
    stack: LocalStack, api: Api
) -> None:
    seller = shop(api)
    placed = order(api, seller.offer_id, language="nb", email="kari@example.no", name="Kari Nordmann")
    first = invoice(api, placed["invoice_id"])

    advance(api, "2027-01-29")
    [reminder] = case(api, first["id"])["letters"]
    assert reminder["amount"]["amount"] == PRICE + 3500

    advance(api, "2027-02-02")
    pay_by_giro(stack, api, first["kid"], PRICE + 3500, first["id"])
    paid = invoice(api, first["id"])
    fee = invoice(api, reminder["fee_invoice_id"])
    assert (paid["status"], paid["open_amount"]["amount"]) == ("paid", 0)
    assert (fee["status"], fee["open_amount"]["amount"]) == ("paid", 0)
    balance = api.get(f"/v1/customers/{placed['customer_id']}/ledger").json()["balance"]["amount"]
    assert balance == 0

    advance(api, "2027-02-27")  # past the notice's and the hand-off's days
    dunned = case(api, first["id"])
    assert (dunned["status"], dunned["closed_reason"], dunned["next_on"]) == ("closed", "paid", None)
    assert dunned["done"] == {f"dunning:{first['id']}:reminder-1": "2027-01-29"}
    assert [letter["kind"] for letter in dunned["letters"]] == ["reminder"]
    keys = set(outbox(stack))
    assert f"dunning:{first['id']}:reminder-1" in keys
    assert f"dunning:{first['id']}:notice" not in keys
    assert f"payment-received:{first['id']}" in keys
