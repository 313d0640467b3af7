"""What the customer receives, in the customer's language: the order confirmation and the first invoice
(its PDF attached, as it is paid by invoice), then the reminder and the debt collection notice."""

from __future__ import annotations

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.scenario.dunning.conftest import advance, invoice, mail, order, shop, text_of


def test_the_outbox_holds_every_message_in_english(stack: LocalStack, api: Api) -> None:
    seller = shop(api)
    placed = order(api, seller.offer_id, language="en", email="emma@example.com", name="Emma Smith")
    first = invoice(api, placed["invoice_id"])

    confirmation = mail(stack, f"order-confirmation:{placed['order_id']}")
    assert confirmation["To"] == "emma@example.com"
    assert "Nordavisa" in text_of(confirmation)
    issued = mail(stack, f"invoice-issued:{first['id']}")
    assert issued["Subject"] == "Invoice 1 from Avishuset Nord AS"
    [pdf] = list(issued.iter_attachments())
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF")

    advance(api, "2027-02-12")
    reminder = mail(stack, f"dunning:{first['id']}:reminder-1")
    assert reminder["Subject"] == "Reminder: invoice 1 is unpaid"
    assert "NOK" in text_of(reminder)
    assert "334.00" in text_of(reminder)  # NOK 299 and the NOK 35 fee
    notice = mail(stack, f"dunning:{first['id']}:notice")
    assert notice["Subject"] == "Debt collection notice for invoice 1"
    assert notice["To"] == "emma@example.com"
