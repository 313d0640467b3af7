"""One issuing path: every numbered document gets its KID lookup, and KIDs never collide across sellers."""

from __future__ import annotations

from typing import Any

from chalice.test import Client

from chalicelib.billing.issuing import Collection, ToIssue, invoice_series, issuing_writes
from chalicelib.billing.kid import DEFAULT_KID_LAYOUT
from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.container import Services
from chalicelib.values import PaymentMethod
from tests.integration.test_ocr_import import drop
from tests.support.catalog import Http, person
from tests.support.ledger import Shop, ledger_api, make_invoice, seed_customer, seed_seller, shop
from tests.support.ocr import Paid, ocr_file

__all__ = ["ledger_api"]

SECOND_SELLER = {
    "name": "Fjordposten AS",
    "organization_number": "985000018",
    "address": {"line1": "Kaigata 3", "postal_code": "5003", "city": "Bergen"},
    "bank_account": "1503 02 12344",
}


def second_seller_offer(http: Http) -> str:
    """Another seller with its own product, monthly plan and invoice offer; its series starts at 1 too."""
    seller = http.created("/v1/legal-entities", SECOND_SELLER)
    product = http.created(
        "/v1/products",
        {
            "name": "Fjordposten digital",
            "kind": "digital",
            "vat_rate_code": "news",
            "legal_entity_id": seller["id"],
        },
    )
    plan = http.created(
        "/v1/plans",
        {
            "name": "Fjordposten månedlig",
            "product_ids": [product["id"]],
            "currency": "NOK",
            "price": {"amount": 24900},
            "period": {"unit": "month", "count": 1},
        },
    )
    offer = http.created(
        "/v1/offers",
        {"name": "Fjordposten med faktura", "plan_id": plan["id"], "payment_methods": ["invoice"]},
    )
    return str(offer["id"])


def ordered(the_shop: Shop, offer_id: str, email: str) -> Invoice:
    status, placed = the_shop.http.post(
        "/v1/orders", {"offer_id": offer_id, "payment_method": "invoice", "customer": person(email)}
    )
    assert status == 201, placed
    return the_shop.invoice(placed["invoice_id"])


def suspense(client: Client, admin: dict[str, str]) -> list[dict[str, Any]]:
    return list(client.http.get("/v1/suspense", headers=admin).json_body["items"])


def test_two_sellers_invoicing_one_customer_under_the_same_number_give_two_kids_each_paid_to_its_invoice(
    services: Services, api: Client, ledger_api: Client, admin: dict[str, str]
) -> None:
    # Given two sellers whose invoice series both start at 1, and one customer ordering from each
    the_shop = shop(services, api, admin)
    other_offer = second_seller_offer(the_shop.http)
    first = the_shop.order("kari@example.no")
    # When the customer orders from the second seller (before: a 503, the KID was taken by the first)
    second = ordered(the_shop, other_offer, "kari@example.no")
    # Then both are the customer's invoice number 1, with two different KIDs, each of its seller's prefix
    assert (first.customer_id, first.number) == (second.customer_id, second.number) == (first.customer_id, 1)
    assert first.legal_entity_id != second.legal_entity_id
    assert first.kid and second.kid and first.kid != second.kid
    first_parts, second_parts = DEFAULT_KID_LAYOUT.parse(first.kid), DEFAULT_KID_LAYOUT.parse(second.kid)
    assert first_parts.seller_prefix != second_parts.seller_prefix
    assert first_parts.customer_number == second_parts.customer_number
    # And a seller keeps its prefix for its next invoice
    third = the_shop.order("ola@example.no")
    assert third.kid and DEFAULT_KID_LAYOUT.parse(third.kid).seller_prefix == first_parts.seller_prefix
    # When the bank pays both with their KIDs in one OCR file
    drop(
        services,
        "ocr/two-sellers.txt",
        ocr_file([Paid(first.kid, first.totals.gross), Paid(second.kid, second.totals.gross)]),
    )
    # Then each payment lands on its own seller's invoice, and nothing waits in suspense
    for invoice in (first, second):
        paid = the_shop.invoice(invoice.id)
        assert (paid.status, paid.open_amount) == (InvoiceStatus.PAID, 0)
    assert suspense(ledger_api, admin) == []


def test_an_invoice_issued_by_a_plan_change_is_paid_through_an_ocr_file_and_closed(
    services: Services, api: Client, ledger_api: Client, admin: dict[str, str]
) -> None:
    # Given a monthly subscription whose first invoice is open
    the_shop = shop(services, api, admin)
    http = the_shop.http
    status, placed = http.post(
        "/v1/orders",
        {"offer_id": the_shop.catalog.invoice_offer["id"], "payment_method": "invoice", "customer": person()},
    )
    assert status == 201, placed
    # When it is upgraded to the bundle at once: a restatement invoice is issued for the rest of the month
    status, changed = http.post(
        f"/v1/subscriptions/{placed['subscription_id']}/change",
        {"plan_id": the_shop.catalog.bundle["id"], "effective": "now"},
    )
    assert status == 200, changed
    _, page = http.get(f"/v1/customers/{placed['customer_id']}/invoices")
    [restated] = [
        i
        for i in page["items"]
        if i["kind"] == "invoice" and i["status"] != "draft" and i["id"] != placed["invoice_id"]
    ]
    invoice = the_shop.invoice(restated["id"])
    assert invoice.kid and invoice.status == InvoiceStatus.ISSUED and invoice.open_amount > 0
    # And the bank pays it with its KID through an OCR file
    drop(services, "ocr/restated.txt", ocr_file([Paid(invoice.kid, invoice.open_amount)]))
    # Then it is closed: paid, nothing open, and the payment is not parked in suspense (before: unknown_kid)
    paid = the_shop.invoice(invoice.id)
    assert (paid.status, paid.open_amount) == (InvoiceStatus.PAID, 0)
    assert suspense(ledger_api, admin) == []


def test_one_claim_numbers_a_batch_and_each_document_gets_the_side_records_its_collection_needs(
    services: Services,
) -> None:
    # Given a seller that has issued nothing yet, and four unnumbered documents of one customer
    entity = seed_seller(services)
    customer = seed_customer(services, "cus_1", 10001)
    template = make_invoice(customer, 1, 12500).model_copy(
        update={"number": None, "kid": None, "payment_method": PaymentMethod.CARD, "open_amount": 0}
    )
    renewal = template.model_copy(update={"id": "inv_renewal"})
    first = template.model_copy(update={"id": "inv_first"})
    fee = template.model_copy(update={"id": "inv_fee"})
    credit = template.model_copy(
        update={
            "id": "crn_1",
            "kind": InvoiceKind.CREDIT_NOTE,
            "credited_invoice_id": "inv_renewal",
            "lines": [
                line.model_copy(update={"net": -line.net, "vat": -line.vat, "gross": -line.gross})
                for line in template.lines
            ],
        }
    )
    series = invoice_series(entity)
    # When they are issued in one batch
    issued = issuing_writes(
        series,
        [
            ToIssue(renewal, customer.number, Collection.INDEXED),
            ToIssue(first, customer.number, Collection.ORDER_SETUP),
            ToIssue(fee, customer.number, Collection.WITH_DUNNED_INVOICE),
            ToIssue(credit, customer.number),
        ],
        None,
    )
    # Then one counter update numbers them 1 to 4, with KIDs of the seller's prefix, totals from the lines
    assert len(issued.updates) == 1
    assert [d.number for d in issued.documents] == [1, 2, 3, 4]
    assert all(d.kid == series.kid(10001, d.number or 0) for d in issued.documents)
    assert [d.open_amount for d in issued.documents] == [12500, 12500, 12500, 0]
    assert issued.documents[3].totals.gross == -12500
    # And each gets what its collection needs: a renewal by card its charge entry and dunning case, an
    # order's first invoice no charge entry (its set-up charges it), a fee only its KID lookup, and a
    # credit note nothing but itself
    kinds: dict[str, list[str]] = {}
    for item in issued.creates:
        target = (item.target_pk or item.pk).removeprefix("INVOICE#").removeprefix("DUNNING#")
        kinds.setdefault(target, []).append(str(item.kind))
    assert sorted(kinds["inv_renewal"]) == ["dunning_case", "invoice", "lookup", "payment_charge_index"]
    assert sorted(kinds["inv_first"]) == ["dunning_case", "invoice", "lookup"]
    assert sorted(kinds["inv_fee"]) == ["invoice", "lookup"]
    assert kinds["crn_1"] == ["invoice"]
    # And once committed, the seller keeps its prefix: the next read of the series has it, the next number
    services.documents.write(issued.creates, issued.replaces, updates=issued.updates)
    again = invoice_series(entity)
    assert (again.kid_prefix, again.counter.last) == (series.kid_prefix, 4)
