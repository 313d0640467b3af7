"""Invoice PDFs in the documents bucket: rendered once (on the first request, or by whoever calls
:meth:`InvoiceDocuments.store`) and served from S3 after that. An issued invoice never changes, so
neither does its PDF."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.catalog.models import LegalEntity
from chalicelib.customers.models import Customer
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.formats.invoice_pdf import InvoiceDocument, render_invoice_pdf
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MEDIA_TYPE = "application/pdf"


@dataclass(frozen=True)
class StoredPdf:
    """A PDF and where it lives."""

    data: bytes
    key: str
    filename: str


def object_key(invoice: Invoice) -> str:
    """``invoices/<seller>/<number>.pdf`` (credit notes under ``credit-notes/``)."""
    folder = "credit-notes" if invoice.kind == InvoiceKind.CREDIT_NOTE else "invoices"
    return f"{folder}/{invoice.legal_entity_id}/{invoice.number}.pdf"


class InvoiceDocuments:
    """Renders, stores and serves invoice PDFs."""

    def __init__(self, store: DocumentStore, s3: S3Client, bucket: str) -> None:
        self._store = store
        self._s3 = s3
        self._bucket = bucket

    def pdf(self, invoice_id: str) -> StoredPdf:
        """The invoice's PDF: from the bucket, or rendered and stored now."""
        invoice = self._invoice(invoice_id)
        key = object_key(invoice)
        try:
            data = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            return self.store(invoice)
        return StoredPdf(data, key, _filename(invoice))

    def store(self, invoice: Invoice) -> StoredPdf:
        """Render the PDF and put it in the bucket."""
        data = render_invoice_pdf(self.document(invoice))
        key = object_key(invoice)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=MEDIA_TYPE)
        return StoredPdf(data, key, _filename(invoice))

    def document(self, invoice: Invoice) -> InvoiceDocument:
        """Everything the PDF shows (three reads: seller, customer, credited invoice)."""
        seller = self._store.get_document(
            keys.legal_entity(invoice.legal_entity_id).pk, "ENTITY", LegalEntity
        )
        customer = self._store.get_document(keys.customer(invoice.customer_id).pk, "PROFILE", Customer)
        if seller is None or customer is None:
            raise NotFoundError("the invoice's seller or customer no longer exists")
        credited_number = None
        if invoice.credited_invoice_id:
            credited = self._store.get_document(
                keys.invoice(invoice.credited_invoice_id).pk, "INVOICE", Invoice
            )
            credited_number = credited.number if credited else None
        return InvoiceDocument(invoice, seller, customer, credited_number)

    def _invoice(self, invoice_id: str) -> Invoice:
        invoice = self._store.get_document(keys.invoice(invoice_id).pk, "INVOICE", Invoice)
        if invoice is None:
            raise NotFoundError(f"no invoice {invoice_id}")
        if invoice.status == InvoiceStatus.DRAFT or invoice.number is None:
            raise ConflictError(f"invoice {invoice_id} is a draft: it has no document yet")
        return invoice


def _filename(invoice: Invoice) -> str:
    prefix = "credit-note" if invoice.kind == InvoiceKind.CREDIT_NOTE else "invoice"
    return f"{prefix}-{invoice.number}.pdf"
