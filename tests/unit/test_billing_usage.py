"""Usage tiers: per unit and graduated, to the øre; and the final invoice of a subscription that ends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from chalicelib.billing.drafting import Seller
from chalicelib.billing.models import DatePeriod, InvoiceStatus, LineKind
from chalicelib.billing.usage import (
    UsageCounter,
    closed,
    cut_at,
    final_invoice_day,
    final_invoice_due,
    final_invoice_id,
    final_usage_invoice,
    tier_quantities,
    unbilled,
)
from chalicelib.catalog.models import (
    Component,
    LegalEntity,
    Period,
    Plan,
    Product,
    ProductKind,
    UsagePrice,
    UsageTier,
)
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE, VatCode
from chalicelib.money import Currency
from chalicelib.periods import PeriodUnit
from chalicelib.subscriptions.models import Phase, Subscription, SubscriptionStatus
from chalicelib.subscriptions.writes import ended, renewal_shard, subscription_item
from chalicelib.values import Address, PaymentMethod

GRADUATED = UsagePrice(
    product_id="prd_calls",
    metric="api.calls",
    tiers=[
        UsageTier(up_to=1000, unit_price=10),
        UsageTier(up_to=10000, unit_price=5),
        UsageTier(unit_price=2),
    ],
)


def test_graduated_tiers_charge_each_unit_at_its_tiers_price() -> None:
    assert tier_quantities(GRADUATED, 12500) == [
        (1000, 10, 1, 1000),
        (9000, 5, 1001, 10000),
        (2500, 2, 10001, None),
    ]


def test_a_quantity_inside_the_first_tier_uses_only_it() -> None:
    assert tier_quantities(GRADUATED, 1000) == [(1000, 10, 1, 1000)]
    assert tier_quantities(GRADUATED, 1001) == [(1000, 10, 1, 1000), (1, 5, 1001, 10000)]


def test_one_open_tier_is_a_per_unit_price() -> None:
    per_unit = UsagePrice(product_id="p", metric="sms", tiers=[UsageTier(unit_price=49)])
    assert tier_quantities(per_unit, 7) == [(7, 49, 1, None)]
    assert tier_quantities(per_unit, 0) == []


# A subscription's final invoice: stopped "now" on 14 April 2027, so it ends on 15 April. March's usage
# was invoiced by a renewal; April's 1,200 calls are not, and no renewal will carry them.

NOW = datetime(2027, 4, 15, 1, 0, tzinfo=UTC)
SELLER = Seller(
    LegalEntity(
        id="le_1",
        name="Avishuset Nord AS",
        organization_number="974760673",
        address=Address(line1="Storgata 1", postal_code="9008", city="Tromsø"),
        bank_account="86011117947",
        created_at=NOW,
    ),
    DEFAULT_VAT_TABLE,
)
CALLS = Product(
    id="prd_calls",
    legal_entity_id="le_1",
    name="API calls",
    kind=ProductKind.USAGE,
    vat_rate_code=VatCode.STANDARD,
    usage_metric="api.calls",
    created_at=NOW,
)
PLAN = Plan(
    id="pln_api",
    legal_entity_id="le_1",
    name="API",
    product_ids=["prd_base"],
    currency=Currency.NOK,
    price=10000,
    period=Period(unit=PeriodUnit.MONTH, count=1),
    components=[Component(product_id="prd_base", price=10000)],
    usage=[GRADUATED.model_copy(update={"product_id": CALLS.id})],
    created_at=NOW,
)


def subscription(**changes: Any) -> Subscription:
    fields: dict[str, Any] = {
        "id": "sub_abc",
        "customer_id": "cus_1",
        "customer_number": 10001,
        "legal_entity_id": "le_1",
        "offer_id": "off_1",
        "order_id": "ord_1",
        "product_ids": ["prd_base"],
        "status": SubscriptionStatus.STOPPED,
        "payment_method": PaymentMethod.INVOICE,
        "agreement_id": "agr_1",
        "currency": "NOK",
        "start_date": date(2027, 3, 1),
        "phases": [Phase(plan_id=PLAN.id, start=date(2027, 3, 1))],
        "ends_on": date(2027, 4, 15),
        "final_invoice_on": date(2027, 4, 15),
        "invoiced_period": DatePeriod(start=date(2027, 4, 1), end=date(2027, 5, 1)),
        "created_at": NOW,
    }
    return Subscription(**(fields | changes))


def counter(start: date, end: date, quantity: int, invoice_id: str | None = None) -> UsageCounter:
    return UsageCounter(
        subscription_id="sub_abc",
        metric="api.calls",
        plan_id=PLAN.id,
        period=DatePeriod(start=start, end=end),
        quantity=quantity,
        invoice_id=invoice_id,
    )


MARCH = counter(date(2027, 3, 1), date(2027, 4, 1), 5000, invoice_id="inv_abc_20270501")
APRIL = counter(date(2027, 4, 1), date(2027, 5, 1), 1200)


def test_a_final_invoice_carries_only_the_usage_not_invoiced_yet_up_to_the_end() -> None:
    invoice = final_usage_invoice(
        SELLER, subscription(), [MARCH, APRIL], {PLAN.id: PLAN}, {CALLS.id: CALLS}, date(2027, 4, 15), NOW
    )
    assert invoice is not None
    assert invoice.id == final_invoice_id("sub_abc") == "inv_abc_final"
    # 1,200 calls: 1,000 x 0.10 + 200 x 0.05 = 110.00 NOK, VAT (25 %) included: 88.00 + 22.00
    assert [(ln.kind, ln.quantity, ln.unit_price, ln.net, ln.vat, ln.gross) for ln in invoice.lines] == [
        (LineKind.USAGE, 1000, 10, 8000, 2000, 10000),
        (LineKind.USAGE, 200, 5, 800, 200, 1000),
    ]
    # The periods stop where the subscription stopped, not at the end of April
    assert {(ln.period.start, ln.period.end) for ln in invoice.lines if ln.period} == {
        (date(2027, 4, 1), date(2027, 4, 15))
    }
    assert (invoice.totals.net, invoice.totals.vat, invoice.totals.gross) == (8800, 2200, 11000)
    assert invoice.open_amount == 11000
    assert (invoice.invoice_date, invoice.due_date) == (date(2027, 4, 15), date(2027, 4, 29))
    assert (invoice.status, invoice.currency, invoice.payment_method) == (
        InvoiceStatus.ISSUED,
        Currency.NOK,
        PaymentMethod.INVOICE,
    )
    assert invoice.number is None  # numbered in the transaction that issues it


def test_with_no_usage_left_to_invoice_there_is_no_final_invoice() -> None:
    plans, products = {PLAN.id: PLAN}, {CALLS.id: CALLS}
    assert (
        final_usage_invoice(SELLER, subscription(), [MARCH], plans, products, date(2027, 4, 15), NOW) is None
    )
    assert final_usage_invoice(SELLER, subscription(), [], plans, products, date(2027, 4, 15), NOW) is None
    assert unbilled([MARCH, APRIL]) == [APRIL]


def test_a_counter_is_cut_at_the_end_date_only_when_its_period_runs_past_it() -> None:
    assert cut_at(APRIL, date(2027, 4, 15)).period == DatePeriod(
        start=date(2027, 4, 1), end=date(2027, 4, 15)
    )
    assert cut_at(APRIL, date(2027, 5, 1)) == APRIL
    assert cut_at(MARCH, date(2027, 4, 15)) == MARCH


def test_the_final_invoice_is_due_on_the_end_date_for_plans_with_usage_only() -> None:
    today = date(2027, 4, 14)
    assert final_invoice_day(date(2027, 4, 15), [PLAN], today) == date(2027, 4, 15)
    assert final_invoice_day(date(2027, 5, 1), [PLAN], today) == date(2027, 5, 1)
    assert final_invoice_day(date(2027, 4, 14), [PLAN], today) == date(2027, 4, 15)  # never before tomorrow
    assert final_invoice_day(date(2027, 4, 15), [PLAN.model_copy(update={"usage": []})], today) is None
    ended = subscription()
    assert not final_invoice_due(ended, date(2027, 4, 14))
    assert final_invoice_due(ended, date(2027, 4, 15))
    assert final_invoice_due(ended, date(2027, 4, 16))  # a late run still issues it
    assert not final_invoice_due(subscription(status=SubscriptionStatus.ACTIVE), date(2027, 4, 15))
    assert not final_invoice_due(subscription(final_invoice_on=None), date(2027, 4, 15))


def test_closing_takes_it_out_of_the_index_and_refuses_later_reports() -> None:
    done = closed(subscription())
    assert (done.final_invoice_on, done.usage_billed_until) == (None, date(2027, 4, 15))
    assert subscription_item(subscription()).gsi2pk == f"RENEW#2027-04-15#{renewal_shard('sub_abc'):02d}"
    # The run ends a stopped subscription in the same write (subscriptions/writes.py, renewal_index_day)
    assert subscription_item(ended(done)).gsi2pk is None
