"""Fees ("gebyr") waiting for a customer's next invoice: added one by one, picked up by the transaction that
issues the invoice, which marks them invoiced at the version it read so a fee is never invoiced twice."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.catalog.vat import VatCode
from chalicelib.clock import Clock
from chalicelib.customers.models import Fee, FeeStatus
from chalicelib.errors import FieldError, NotFoundError, ValidationFailedError
from chalicelib.ids import new_id
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, document_item

MAX_FEE = 10**9


def fee_item(fee: Fee, version: int = 1) -> DocumentItem:
    """The stored item of a fee; its status is an attribute too, so that reads can skip invoiced fees."""
    return document_item("fee", keys.fee(fee.customer_id, fee.id), fee, status=fee.status, version=version)


class FeeService:
    """Adds and reads a customer's fees."""

    def __init__(self, store: DocumentStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def add(self, customer_id: str, amount: int, currency: Currency, text: str, vat_code: VatCode) -> Fee:
        """A pending fee of ``amount`` minor units for the customer's next invoice in ``currency``."""
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_FEE:
            message = f"a fee is a whole number of minor units between 1 and {MAX_FEE}"
            raise ValidationFailedError(message, [FieldError("amount", message, "out_of_range")])
        if not text.strip():
            raise ValidationFailedError(
                "a fee needs a text", [FieldError("text", "cannot be blank", "blank")]
            )
        customer = keys.customer(customer_id)
        if self._store.get(customer.pk, customer.sk) is None:
            raise NotFoundError(f"no customer {customer_id}")
        fee = Fee(
            id=new_id("fee"),
            customer_id=customer_id,
            amount=amount,
            currency=currency,
            text=text.strip(),
            vat_code=vat_code,
            created_at=self._clock.now(),
        )
        self._store.put_new(fee_item(fee))
        return fee

    def pending_with_versions(self, customer_id: str) -> list[tuple[Fee, int]]:
        """The customer's pending fees, oldest first, each with the version to replace it at."""
        pk = keys.customer(customer_id).pk
        found: list[tuple[Fee, int]] = []
        cursor: str | None = None
        while True:
            page = self._store.query(pk, "FEE#", cursor=cursor)
            found.extend(
                (item.document(Fee), int(item.version))
                for item in page.items
                if item.status == FeeStatus.PENDING and item.doc is not None
            )
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    def pending(self, customer_id: str) -> list[Fee]:
        """The customer's pending fees, oldest first."""
        return [fee for fee, _ in self.pending_with_versions(customer_id)]

    @staticmethod
    def invoiced_writes(fees: Sequence[tuple[Fee, int]], invoice_id: str) -> list[tuple[DocumentItem, int]]:
        """Replacements marking ``fees`` (as read, with their versions) invoiced on ``invoice_id``, for the
        transaction that issues the invoice; a fee changed since it was read makes that transaction fail."""
        return [
            (
                fee_item(
                    fee.model_copy(update={"status": FeeStatus.INVOICED, "invoice_id": invoice_id}), version
                ),
                version,
            )
            for fee, version in fees
        ]
