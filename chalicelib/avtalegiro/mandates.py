"""Importing Nets' mandate files (``avtalegiro/mandates/`` in the bucket).

A file is known by the SHA-256 of its bytes; a second drop of a file already imported does nothing.
Every record is applied, also a "changed" one for a KID we know (the payer may have changed the notice
flag). Per KID, one transaction stores the mandate and switches what the KID names: an active mandate
makes the payment agreements active (AvtaleGiro) and their subscriptions pay by AvtaleGiro; a deleted
one stops the agreements and puts their subscriptions back on invoice with KID. A KID that names nothing
is listed in the file's report, not raised.

A deletion that puts subscriptions back on invoice after the mandate (or its agreements) was active
records ``mandate.deleted`` in that KID's transaction, with the subscriptions it switched; the
notification consumer sends the customer its ``mandate_deleted`` notice from it (key
``mandate-deleted:<kid>:<file id>``). The event exists exactly when the switch committed, so nothing is
lost between commit and send. A retry of an unfinished import switches nothing again and so records
nothing; nor does a replay of an imported file, or a deletion of a mandate already deleted. The mandate
stores which subscriptions its deletion put back on invoice (``switched_to_invoice``).

A KID names agreements through the ``AGKID#`` lookup (:func:`agreement_kid_writes`), else as the
customer-level KID an order gives an AvtaleGiro agreement (customer number + invoice part 0), else as an
invoice's KID (that invoice's subscription's agreement).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from chalicelib.avtalegiro.models import (
    Mandate,
    MandateFileReport,
    MandateStatus,
    agreement_kid_key,
    mandate_file_key,
    mandate_key,
)
from chalicelib.billing.kid import DEFAULT_KID_LAYOUT, InvalidKidError
from chalicelib.billing.models import Invoice
from chalicelib.clock import Clock
from chalicelib.customers.models import Customer
from chalicelib.errors import UnavailableError
from chalicelib.events import Event, EventType, new_event
from chalicelib.formats.avtalegiro.mandates import MandateFile, MandateRecord, parse_mandates
from chalicelib.ledger.service import ATTEMPTS, backoff
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    Keys,
    WriteConflictError,
    document_item,
    lookup_item,
)
from chalicelib.subscriptions.models import (
    AgreementStatus,
    PaymentAgreement,
    Subscription,
    SubscriptionStatus,
)
from chalicelib.subscriptions.writes import subscription_item
from chalicelib.values import PaymentMethod

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "avtalegiro/mandates/"
_ENDED = (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED)


def agreement_kid_writes(agreement: PaymentAgreement) -> list[DocumentItem]:
    """The lookup that finds an AvtaleGiro agreement by its KID (write it with the agreement)."""
    if agreement.method != PaymentMethod.AVTALEGIRO or not agreement.kid:
        return []
    entry = agreement_kid_key(agreement.kid, agreement.id)
    return [lookup_item(entry.pk, keys.agreement(agreement.id), kind="agreement_kid", sk=entry.sk)]


@dataclass
class MandateImportResult:
    """What one import did."""

    file_id: str
    duplicate: bool = False
    mandates: int = 0
    linked: int = 0
    unknown_kids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Target:
    customer_id: str
    agreements: list[tuple[PaymentAgreement, int]]
    subscriptions: list[tuple[Subscription, int]]


def _switch_replaces(
    target: _Target, active: bool, switched: list[tuple[Subscription, int]], method: PaymentMethod
) -> list[tuple[DocumentItem, int]]:
    """The agreements a mandate starts (``active``) or stops, and the ``switched`` subscriptions moved to
    ``method``, each at the version read."""
    replaces: list[tuple[DocumentItem, int]] = []
    agreement_status = AgreementStatus.ACTIVE if active else AgreementStatus.STOPPED
    for agreement, version in target.agreements:
        if agreement.status != agreement_status:
            changed = agreement.model_copy(update={"status": agreement_status})
            item = document_item("agreement", keys.agreement(agreement.id), changed, status=changed.status)
            replaces.append((item, version))
    for subscription, version in switched:
        changed_sub = subscription.model_copy(update={"payment_method": method})
        replaces.append((subscription_item(changed_sub), version))
    return replaces


class MandateImports:
    """Imports mandate files and applies each mandate to the agreements and subscriptions it names."""

    def __init__(self, store: DocumentStore, s3: S3Client, clock: Clock) -> None:
        self._store = store
        self._s3 = s3
        self._clock = clock

    def import_object(self, bucket: str, key: str, etag: str = "") -> MandateImportResult:
        """Import the mandate file at ``bucket``/``key``."""
        extra = {"IfMatch": etag} if etag else {}
        data = self._s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()  # type: ignore[arg-type]
        return self.import_bytes(data, key)

    def import_bytes(self, data: bytes, key: str) -> MandateImportResult:
        """Import a mandate file's bytes; raises
        :class:`~chalicelib.formats.avtalegiro.records.AvtaleGiroFileError` for a file that is not one
        (nothing is written then)."""
        parsed = parse_mandates(data)
        report_keys = mandate_file_key(parsed.sha256)
        stored = self._store.get(report_keys.pk, report_keys.sk)
        if stored is not None and stored.doc is not None:
            report = stored.document(MandateFileReport)
            if report.status == "imported":
                return MandateImportResult(parsed.sha256, duplicate=True, mandates=report.mandates)
        else:
            now = self._clock.now()
            report = MandateFileReport(
                id=parsed.sha256,
                key=key,
                status="importing",
                mandates=len(parsed.mandates),
                active=sum(1 for m in parsed.mandates if m.active),
                deleted=sum(1 for m in parsed.mandates if not m.active),
                notify=sum(1 for m in parsed.mandates if m.notify),
                linked=0,
                unknown_kids=[],
                created_at=now,
            )
            try:
                self._store.put_new(self._report_item(report))
            except WriteConflictError:
                return self.import_bytes(data, key)
        return self._apply_all(parsed, report)

    def _report_item(self, report: MandateFileReport, version: int = 1) -> DocumentItem:
        return document_item(
            "avtalegiro_mandate_file",
            mandate_file_key(report.id, report.created_at),
            report,
            status=report.status,
            version=version,
        )

    def _apply_all(self, parsed: MandateFile, report: MandateFileReport) -> MandateImportResult:
        result = MandateImportResult(parsed.sha256, mandates=len(parsed.mandates))
        # The last record of a KID in the file is the one that counts.
        latest: dict[str, MandateRecord] = {m.kid: m for m in parsed.mandates}
        for record in latest.values():
            if self._apply(record, parsed.sha256):
                result.linked += 1
            else:
                result.unknown_kids.append(record.kid)
        finished = report.model_copy(
            update={
                "status": "imported",
                "linked": result.linked,
                "unknown_kids": result.unknown_kids,
                "finished_at": self._clock.now(),
            }
        )
        stored = self._store.get(*_pair(mandate_file_key(report.id)))
        version = int(stored.version) if stored is not None else 1
        # A conflict means a concurrent run of the same file finished it with the same figures.
        with contextlib.suppress(WriteConflictError):
            self._store.write([], [(self._report_item(finished, version), version)])
        return result

    def mandate(self, kid: str) -> Mandate | None:
        """The mandate registered with ``kid``."""
        return self._store.get_document(*_pair(mandate_key(kid)), Mandate)

    def report(self, file_id: str) -> MandateFileReport | None:
        """A mandate file's report."""
        return self._store.get_document(*_pair(mandate_file_key(file_id)), MandateFileReport)

    def _apply(self, record: MandateRecord, file_id: str) -> bool:
        """Store one mandate and switch what it names; False when its KID names nothing."""
        for attempt in range(ATTEMPTS):
            target = self._target(record.kid)
            if target is None:
                return False
            try:
                self._write(record, file_id, target)
                return True
            except WriteConflictError:
                backoff(attempt)
        raise UnavailableError("agreements kept changing during the mandate import; it will be retried")

    def _write(self, record: MandateRecord, file_id: str, target: _Target) -> None:
        """One KID's transaction: the mandate, its agreements and subscriptions switched, and
        ``mandate.deleted`` when a deletion puts subscriptions back on invoice now."""
        now = self._clock.now()
        stored = self._store.get(*_pair(mandate_key(record.kid)))
        previous = stored.document(Mandate) if stored is not None and stored.doc is not None else None
        active = record.active
        if active:
            since = previous.active_since if previous and previous.status == MandateStatus.ACTIVE else now
        else:
            since = None
        method = PaymentMethod.AVTALEGIRO if active else PaymentMethod.INVOICE
        switched = [
            (subscription, version)
            for subscription, version in target.subscriptions
            if subscription.payment_method != method and subscription.status not in _ENDED
        ]
        told: list[Subscription] = []  # put back on invoice by this transaction after an active mandate
        switched_before: list[str] = []
        if not active:
            was_active = (previous is not None and previous.status == MandateStatus.ACTIVE) or any(
                agreement.status == AgreementStatus.ACTIVE for agreement, _ in target.agreements
            )
            told = [subscription for subscription, _ in switched] if was_active else []
            if (
                previous is not None
                and previous.status == MandateStatus.DELETED
                and previous.file_id == file_id
            ):
                # An unfinished import of this file switched these already (and recorded that).
                switched_before = previous.switched_to_invoice
        mandate = Mandate(
            kid=record.kid,
            status=MandateStatus.ACTIVE if active else MandateStatus.DELETED,
            notify=record.notify,
            registration=record.registration,
            customer_id=target.customer_id,
            agreement_ids=sorted(a.id for a, _ in target.agreements),
            active_since=since,
            file_id=file_id,
            updated_at=now,
            switched_to_invoice=sorted({*switched_before, *(s.id for s in told)}),
        )
        creates: list[DocumentItem] = []
        replaces: list[tuple[DocumentItem, int]] = []
        item = document_item("avtalegiro_mandate", mandate_key(record.kid), mandate, status=mandate.status)
        if stored is None:
            creates.append(item)
        else:
            replaces.append((item, int(stored.version)))
        replaces.extend(_switch_replaces(target, active, switched, method))
        events = [mandate_deleted_event(mandate, told, now)] if told else []
        self._store.write(creates, replaces, events=events)

    def _target(self, kid: str) -> _Target | None:
        agreement_ids = self._agreements_by_lookup(kid)
        customer_id: str | None = None
        if not agreement_ids:
            customer_id, agreement_ids = self._agreements_of_customer_kid(kid)
        if not agreement_ids:
            customer_id, agreement_ids = self._agreements_of_invoice_kid(kid)
        if not agreement_ids:
            return None
        found = self._store.batch_get(_pair(keys.agreement(ident)) for ident in agreement_ids)
        agreements = [
            (item.document(PaymentAgreement), int(item.version))
            for item in found.values()
            if item.doc is not None
        ]
        agreements = [(a, v) for a, v in agreements if a.method == PaymentMethod.AVTALEGIRO]
        if not agreements:
            return None
        customer_id = customer_id or agreements[0][0].customer_id
        subscriptions = self._subscriptions(customer_id, {a.id for a, _ in agreements})
        return _Target(customer_id, agreements, subscriptions)

    def _agreements_by_lookup(self, kid: str) -> list[str]:
        page = self._store.query(agreement_kid_key(kid, "").pk, "AGREEMENT#")
        return [item.sk.removeprefix("AGREEMENT#") for item in page.items]

    def _agreements_of_customer_kid(self, kid: str) -> tuple[str | None, list[str]]:
        try:
            parts = DEFAULT_KID_LAYOUT.parse(kid)
        except InvalidKidError:
            return None, []
        if parts.invoice_number != 0:
            return None, []
        customer = self._store.follow(keys.customer_number_lookup(parts.customer_number), Customer)
        if customer is None:
            return None, []
        subscriptions = self._subscriptions(customer.id, None)
        ids = {s.agreement_id for s, _ in subscriptions}
        found = self._store.batch_get(_pair(keys.agreement(ident)) for ident in ids)
        matching = [
            agreement.id
            for agreement in (
                item.document(PaymentAgreement) for item in found.values() if item.doc is not None
            )
            if agreement.kid == kid
        ]
        return customer.id, matching

    def _agreements_of_invoice_kid(self, kid: str) -> tuple[str | None, list[str]]:
        invoice = self._store.follow(keys.kid_lookup(kid), Invoice)
        if invoice is None or invoice.subscription_id is None:
            return None, []
        subscription = self._store.get_document(
            *_pair(keys.subscription(invoice.subscription_id)), Subscription
        )
        if subscription is None:
            return None, []
        return subscription.customer_id, [subscription.agreement_id]

    def _subscriptions(
        self, customer_id: str, agreement_ids: set[str] | None
    ) -> list[tuple[Subscription, int]]:
        found: list[tuple[Subscription, int]] = []
        cursor: str | None = None
        while True:
            page = self._store.query(f"CUSTOMER#{customer_id}", "SUB#", index="gsi1", cursor=cursor)
            wanted = [_pair(keys.subscription(item.pk.removeprefix("SUB#"))) for item in page.items]
            for item in self._store.batch_get(wanted).values():
                if item.doc is None:
                    continue
                subscription = item.document(Subscription)
                if agreement_ids is None or subscription.agreement_id in agreement_ids:
                    found.append((subscription, int(item.version)))
            cursor = page.next_cursor
            if cursor is None:
                return found


def mandate_deleted_event(mandate: Mandate, switched: list[Subscription], now: datetime) -> Event:
    """``mandate.deleted``: the deletion of ``mandate`` (by its file) put the ``switched`` subscriptions
    (at least one; a KID is one seller's) back on invoice. Subject ``<kid>:<file id>``, as in the notice's
    key."""
    return new_event(
        EventType.MANDATE_DELETED,
        switched[0].legal_entity_id,
        now,
        {
            "kid": mandate.kid,
            "customer_id": mandate.customer_id,
            "subscription_ids": sorted(subscription.id for subscription in switched),
            "file_id": mandate.file_id,
        },
    )


def _pair(key: Keys) -> tuple[str, str]:
    return key.pk, key.sk
