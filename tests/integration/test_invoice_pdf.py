"""Invoice PDFs: rendered on first request in the customer's language, stored in the bucket, served
as binary; the text read back holds what Norwegian bookkeeping rules require."""

from __future__ import annotations

import io
import re

import pytest
from chalice.test import Client
from pypdf import PdfReader

from chalicelib.container import Services
from chalicelib.documents.invoices import object_key
from chalicelib.formats.invoice_pdf import InvoiceDocument, render_invoice_pdf
from tests.support.ledger import ledger_api, seed_customer, seed_invoice, seed_seller

__all__ = ["ledger_api"]

EXPECTED = {
    "nb": [
        "Faktura 7",
        "Fakturadato",
        "01.01.2027",
        "Forfallsdato",
        "15.01.2027",
        "Leveringsperiode",
        "01.01.2027 - 31.01.2027",
        "MVA-spesifikasjon",
        "Å betale",
        "Kontonummer",
        "KID",
        "399,00 kr",
        "Beløp å betale",
    ],
    "sv": [
        "Faktura 7",
        "Fakturadatum",
        "2027-01-01",
        "Förfallodatum",
        "2027-01-15",
        "Leveransperiod",
        "Momsspecifikation",
        "Att betala",
        "399,00 Nkr",
        "Belopp att betala",
    ],
    "da": [
        "Faktura 7",
        "Fakturadato",
        "01.01.2027",
        "Forfaldsdato",
        "15.01.2027",
        "Momsspecifikation",
        "At betale",
        "399,00 NOK",
        "Beløb at betale",
    ],
    "en": [
        "Invoice 7",
        "Invoice date",
        "01/01/2027",
        "Due date",
        "15/01/2027",
        "Delivery period",
        "VAT summary",
        "Amount due",
        "NOK399.00",
        "Amount to pay",
    ],
}


def text_of(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " "))


@pytest.mark.parametrize("language", ["nb", "sv", "da", "en"])
def test_the_invoice_pdf_shows_what_the_rules_require_in_the_customers_language(
    services: Services, ledger_api: Client, admin: dict[str, str], language: str
) -> None:
    # Given an issued invoice of 399 kr (25 % VAT) to a customer who reads ``language``
    seed_seller(services)
    customer = seed_customer(services, "cus_pdf", 10042, language=language)
    invoice = seed_invoice(services, customer, 7, 39900)
    # When its PDF is asked for
    response = ledger_api.http.get(
        f"/v1/invoices/{invoice.id}/pdf", headers={**admin, "Accept": "application/pdf"}
    )
    # Then it is a PDF, stored in the bucket under the seller and number
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.body.startswith(b"%PDF-")
    stored = services.s3.get_object(Bucket=services.settings.documents_bucket, Key=object_key(invoice))
    assert stored["Body"].read() == response.body
    # And its text holds the seller, organisation number with MVA and the register, the buyer, number,
    # dates, period, lines, VAT per rate, totals and the payment section
    text = text_of(response.body)
    for expected in [
        "Avishuset Nord AS",
        "974 760 673 MVA",
        "Foretaksregisteret",
        "Storgata 1",
        "9008 Tromsø",
        "Kunde 10042",
        "Fjellveien 2",
        "Nordavisa digital",
        "25 %",
        "86011117947",
        invoice.kid or "",
        *EXPECTED[language],
    ]:
        assert expected in text, (expected, text)
    # And asking again serves the stored document
    again = ledger_api.http.get(
        f"/v1/invoices/{invoice.id}/pdf", headers={**admin, "Accept": "application/pdf"}
    )
    assert again.body == response.body


def test_a_credit_note_pdf_names_the_invoice_it_credits(services: Services) -> None:
    seller = seed_seller(services)
    customer = seed_customer(services, "cus_pdf", 10042)
    invoice = seed_invoice(services, customer, 7, 39900)
    credit_note = invoice.model_copy(
        update={
            "id": "cn_1",
            "kind": "credit_note",
            "number": 8,
            "credited_invoice_id": invoice.id,
            "kid": None,
        }
    )
    text = text_of(render_invoice_pdf(InvoiceDocument(credit_note, seller, customer, credited_number=7)))
    assert "Kreditnota 8" in text and "Krediterer faktura 7" in text and "Kreditert beløp" in text
    assert "Kontonummer" not in text


def test_rendering_is_deterministic(services: Services) -> None:
    seller = seed_seller(services)
    customer = seed_customer(services, "cus_pdf", 10042)
    invoice = seed_invoice(services, customer, 7, 39900)
    document = services.invoice_documents.document(invoice)
    assert render_invoice_pdf(document) == render_invoice_pdf(InvoiceDocument(invoice, seller, customer))


def test_unknown_invoices_are_404_problems(
    services: Services, ledger_api: Client, admin: dict[str, str]
) -> None:
    response = ledger_api.http.get(
        "/v1/invoices/inv_nope/pdf", headers={**admin, "Accept": "application/pdf"}
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
