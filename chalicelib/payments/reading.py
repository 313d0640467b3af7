"""Reading the payment records back: an agreement's set-up, an invoice's charge, a credit note's refund
(each with the version a conditional write needs), and what a provider's reference points at."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.payments.records import (
    ChargeRecord,
    PaymentSetup,
    RefundRecord,
    charge_keys,
    reference_lookup,
    refund_keys,
    setup_keys,
)
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore


@dataclass(frozen=True)
class HeldCharge:
    """A charge record as just read, with its version and its invoice's item (None when not read or
    gone): what settling the charge needs, so that it is not read again."""

    record: ChargeRecord
    version: int
    invoice: DocumentItem | None = None


def held_charge(item: DocumentItem | None, invoice: DocumentItem | None = None) -> HeldCharge | None:
    """A charge record's stored item (and its invoice's) as a :class:`HeldCharge`, None when absent."""
    if item is None or item.doc is None:
        return None
    return HeldCharge(item.document(ChargeRecord), int(item.version), invoice)


class PaymentRecords:
    """The payment records in the main table, read one at a time (strongly consistent)."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    def setup(self, agreement_id: str) -> tuple[PaymentSetup, int] | None:
        """An agreement's set-up and its version."""
        found = self._store.get(setup_keys(agreement_id).pk, "SETUP")
        if found is None or found.doc is None:
            return None
        return found.document(PaymentSetup), int(found.version)

    def charge(self, invoice_id: str) -> tuple[ChargeRecord, int] | None:
        """An invoice's charge record and its version."""
        found = self._store.get(charge_keys(invoice_id).pk, "CHARGE")
        if found is None or found.doc is None:
            return None
        return found.document(ChargeRecord), int(found.version)

    def charge_and_invoice(self, invoice_id: str) -> HeldCharge | None:
        """An invoice's charge record and the invoice, in one round trip."""
        charge, invoice = (charge_keys(invoice_id).pk, "CHARGE"), (keys.invoice(invoice_id).pk, "INVOICE")
        found = self._store.batch_get([charge, invoice])
        return held_charge(found.get(charge), found.get(invoice))

    def refund_record(self, credit_note_id: str) -> tuple[RefundRecord, int] | None:
        """A credit note's refund record and its version."""
        found = self._store.get(refund_keys(credit_note_id).pk, "REFUND")
        if found is None or found.doc is None:
            return None
        return found.document(RefundRecord), int(found.version)

    def follow(self, provider: str, reference: str) -> tuple[str, str] | None:
        """The key (pk, sk) of the set-up or charge a provider's reference names, None when unknown."""
        found = self._store.get(reference_lookup(provider, reference), "LOOKUP")
        if found is None or found.target_pk is None or found.target_sk is None:
            return None
        return found.target_pk, found.target_sk
