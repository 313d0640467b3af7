"""Handing claims over to a debt collection agency: one JSON file per (day, shard) in the documents bucket,
``dunning/handoff/<day>-<shard>.json``.

Layout (``format`` ``abo.dunning.handoff/1``; amounts are integer minor units with the claim's currency)::

    {
      "format": "abo.dunning.handoff/1",
      "handed_over_on": "2027-02-26", "shard": 3, "claims_count": 1,
      "creditors": [{
        "creditor": {"legal_entity_id", "name", "organization_number", "address": {...}, "country",
                     "bank_account", "iban", "bic", "email"},
        "claims": [{
          "invoice_id", "invoice_number", "kid", "currency", "invoice_date", "due_date",
          "original_amount", "principal_open",
          "fees": [{"kind", "document_id", "number", "kid", "amount", "open", "charged_on"}],
          "fees_open",
          "interest": {"amount", "from", "until", "country", "basis": "statutory late-payment interest"}
                      or {"amount": null, "reason": "..."} when a day has no known rate,
          "total_claim",                      # principal_open + fees_open + interest (if known)
          "reminders": [{"sent_on", "deadline", "fee"}],
          "collection_notice": {"sent_on", "deadline", "fee"} or null,
          "handed_over_on",
          "debtor": {"customer_id", "customer_number", "type", "name", "organization_number", "email",
                     "phone", "address": {...} or null, "country", "language"}
        }]
      }]
    }

The claim is built once, when the hand-off step is committed, and stored on the case; the file is written
after the shard's cases are committed, from every case in the ``HANDOFF#<day>#<shard>`` partition, sorted
by invoice id: rewriting it (a rerun) gives the same bytes.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.billing.models import Invoice
from chalicelib.catalog.models import LegalEntity
from chalicelib.customers.models import Customer
from chalicelib.dunning.index import DunningCase, handoff_partition
from chalicelib.dunning.limits import DEFAULT_INTEREST_RATES, InterestRateTable, UnknownDunningLimitError
from chalicelib.dunning.plans import StepKind
from chalicelib.dunning.schedule import DunningState, late_payment_interest
from chalicelib.money import Money
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore
from chalicelib.values import Address

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

FORMAT = "abo.dunning.handoff/1"


def handoff_key(day: date, shard: int) -> str:
    """The export file's key in the documents bucket."""
    return f"dunning/handoff/{day.isoformat()}-{shard:02d}.json"


def _address(address: Address | None) -> dict[str, Any] | None:
    return address.model_dump(mode="json") if address is not None else None


def creditor_record(entity: LegalEntity) -> dict[str, Any]:
    """The creditor as the agency needs it."""
    return {
        "legal_entity_id": entity.id,
        "name": entity.name,
        "organization_number": entity.organization_number,
        "address": _address(entity.address),
        "country": entity.country,
        "bank_account": entity.bank_account,
        "iban": entity.iban,
        "bic": entity.bic,
        "email": entity.email,
    }


def debtor_record(customer: Customer) -> dict[str, Any]:
    """The debtor: name, address and identifiers."""
    return {
        "customer_id": customer.id,
        "customer_number": customer.number,
        "type": customer.type.value,
        "name": customer.name,
        "organization_number": customer.org_number,
        "email": customer.email,
        "phone": customer.phone,
        "address": _address(customer.address),
        "country": customer.country,
        "language": customer.language,
    }


def interest_record(
    invoice: Invoice, country: str, until: date, rates: InterestRateTable = DEFAULT_INTEREST_RATES
) -> dict[str, Any]:
    """Statutory late-payment interest on the amount open at hand-off, from the day after the due date to
    ``until``; without a known rate for every day, the amount is null and the reason says why."""
    state = DunningState(
        invoice_id=invoice.id,
        due_date=invoice.due_date,
        amount=Money(invoice.open_amount, invoice.currency),
        payment_method=invoice.payment_method,
    )
    start = invoice.due_date + timedelta(days=1)
    try:
        amount = late_payment_interest(state, until, rates, country)
    except UnknownDunningLimitError as error:
        return {"amount": None, "from": start.isoformat(), "until": until.isoformat(), "reason": str(error)}
    return {
        "amount": amount.amount,
        "from": start.isoformat(),
        "until": until.isoformat(),
        "country": country,
        "basis": "statutory late-payment interest on the principal open at hand-off",
    }


def fee_records(case: DunningCase, fee_invoices: dict[str, Invoice]) -> list[dict[str, Any]]:
    """The fee documents the case's letters charged, with what is still open of each. Pure."""
    fees: list[dict[str, Any]] = []
    for letter in case.letters:
        if not letter.fee_invoice_id:
            continue
        document = fee_invoices.get(letter.fee_invoice_id)
        fees.append(
            {
                "kind": letter.kind.value,
                "document_id": letter.fee_invoice_id,
                "number": letter.fee_invoice_number,
                "kid": letter.fee_kid,
                "amount": letter.fee,
                "open": document.open_amount if document is not None else letter.fee,
                "charged_on": letter.sent_on.isoformat(),
            }
        )
    return fees


def letter_records(case: DunningCase, kind: StepKind) -> list[dict[str, Any]]:
    """The case's letters of one kind (reminders, collection notices), oldest first. Pure."""
    return [
        {
            "sent_on": letter.sent_on.isoformat(),
            "deadline": letter.deadline.isoformat(),
            "fee": letter.fee,
        }
        for letter in case.letters
        if letter.kind is kind
    ]


def claim_record(
    case: DunningCase,
    invoice: Invoice,
    entity: LegalEntity,
    customer: Customer,
    fee_invoices: dict[str, Invoice],
    day: date,
    rates: InterestRateTable = DEFAULT_INTEREST_RATES,
) -> dict[str, Any]:
    """Everything a collection agency needs about one claim. Pure."""
    fees = fee_records(case, fee_invoices)
    fees_open = sum(int(fee["open"]) for fee in fees)
    interest = interest_record(invoice, entity.country, day, rates)
    total = invoice.open_amount + fees_open + (interest["amount"] or 0)
    notices = letter_records(case, StepKind.COLLECTION_NOTICE)
    return {
        "creditor": creditor_record(entity),
        "invoice_id": invoice.id,
        "invoice_number": invoice.number,
        "kid": invoice.kid,
        "currency": invoice.currency.value,
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "original_amount": invoice.totals.gross,
        "principal_open": invoice.open_amount,
        "fees": fees,
        "fees_open": fees_open,
        "interest": interest,
        "total_claim": total,
        "reminders": letter_records(case, StepKind.REMINDER),
        "collection_notice": notices[-1] if notices else None,
        "handed_over_on": day.isoformat(),
        "debtor": debtor_record(customer),
    }


def read_fee_invoices(store: DocumentStore, case: DunningCase) -> dict[str, Invoice]:
    """The fee documents of the case's letters, by id, in one BatchGetItem (for :func:`claim_record`)."""
    fee_ids = [letter.fee_invoice_id for letter in case.letters if letter.fee_invoice_id]
    fees = store.batch_get((keys.invoice(i).pk, "INVOICE") for i in fee_ids)
    return {
        item.pk.removeprefix(keys.invoice("").pk): item.document(Invoice)
        for item in fees.values()
        if item.doc is not None
    }


def handoff_document(day: date, shard: int, claims: list[dict[str, Any]]) -> dict[str, Any]:
    """The export file's content: claims grouped by creditor, both sorted. Pure."""
    by_creditor: dict[str, dict[str, Any]] = {}
    for claim in sorted(claims, key=lambda c: str(c["invoice_id"])):
        creditor = dict(claim["creditor"])
        group = by_creditor.setdefault(str(creditor["legal_entity_id"]), {"creditor": creditor, "claims": []})
        group["claims"].append({name: value for name, value in claim.items() if name != "creditor"})
    return {
        "format": FORMAT,
        "handed_over_on": day.isoformat(),
        "shard": shard,
        "claims_count": len(claims),
        "creditors": [by_creditor[ident] for ident in sorted(by_creditor)],
    }


class HandoffExporter:
    """Writes a (day, shard)'s export file from the cases handed over in it."""

    def __init__(self, store: DocumentStore, s3: S3Client, bucket: str) -> None:
        self._store = store
        self._s3 = s3
        self._bucket = bucket

    def export(self, day: date, shard: int) -> str | None:
        """Write the file of ``day`` and ``shard`` (None: nothing was handed over there)."""
        claims: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._store.query(handoff_partition(day, shard), index="gsi2", cursor=cursor)
            found = self._store.batch_get((item.pk, item.sk) for item in page.items)
            for item in found.values():
                case = item.document(DunningCase)
                if case.handoff is not None:
                    claims.append(dict(case.handoff))
            cursor = page.next_cursor
            if cursor is None:
                break
        if not claims:
            return None
        key = handoff_key(day, shard)
        body = json.dumps(handoff_document(day, shard, claims), indent=2, sort_keys=True).encode()
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        return key
