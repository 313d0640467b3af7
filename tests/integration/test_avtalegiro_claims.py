"""AvtaleGiro end to end against moto: an order's mandate arrives, invoices are claimed once a day, a
crash at any AWS call and a rerun still claim each invoice once, a credited invoice's claim is deleted."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

from chalice.test import Client

from chalicelib.avtalegiro.claims import claim_index_writes
from chalicelib.avtalegiro.models import AvtaleGiroConfig, EntityAgreement, MandateStatus, SubmissionStatus
from chalicelib.billing.drafts import document_item_for
from chalicelib.billing.kid import make_invoice_kid
from chalicelib.billing.models import Invoice, InvoiceStatus
from chalicelib.container import Services
from chalicelib.formats.avtalegiro.claim_files import parse_claim_file
from chalicelib.formats.avtalegiro.claims import FileKind
from chalicelib.store import keys
from chalicelib.store.documents import lookup_item
from chalicelib.subscriptions.models import AgreementStatus, PaymentAgreement, Subscription
from chalicelib.values import PaymentMethod
from infra.awscalls import InjectedCrash, fail_at_call
from tests.support.catalog import Http, build_catalog, person

NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)  # the fixtures' frozen clock


def mandate_file(kid: str, registration: int = 1, notify: bool = True) -> bytes:
    """A mandate file from Nets with one mandate, laid out like Nets' sample."""
    lines = [
        "NY000010" + "00008080" + "1000001" + "55555555" + "0" * 49,
        "NY212420" + "0" * 9 + "0000001" + "86011117947" + "0" * 45,
        f"NY219470{1:07d}{registration}{kid:>25}{'J' if notify else 'N'}" + "0" * 38,
        f"NY212488{1:08d}{3:08d}" + "0" * 56,
        f"NY000089{1:08d}{5:08d}{0:017d}010127" + "0" * 33,
    ]
    return ("\n".join(lines) + "\n").encode("latin-1")


def setup(services: Services, api: Client, admin: dict[str, str], customers: int = 2) -> list[Invoice]:
    """A catalog, AvtaleGiro configured, orders paid by AvtaleGiro with their mandates, and one invoice
    per customer issued after the mandate (in the claim index)."""
    http = Http(api, admin)
    catalog = build_catalog(http)
    avtalegiro = services.avtalegiro
    seller_id = catalog.seller["id"]
    avtalegiro.claims.configure(
        AvtaleGiroConfig(
            data_transmitter="55555555",
            agreements={
                seller_id: EntityAgreement(
                    agreement_id="000123456", account="86011117947", bank_notification=True
                )
            },
        )
    )
    invoices = []
    for n in range(customers):
        body = {
            "offer_id": catalog.campaign_offer["id"],
            "payment_method": "avtalegiro",
            "customer": person(f"kunde{n}@example.no"),
        }
        status, order = http.post("/v1/orders", body)
        assert status == 201, order
        assert order["payment"]["status"] == "awaiting_mandate"
        first = services.documents.get_document(keys.invoice(order["invoice_id"]).pk, "INVOICE", Invoice)
        assert first is not None
        result = avtalegiro.mandates.import_bytes(
            mandate_file(order["payment"]["kid"], notify=n % 2 == 0), "k"
        )
        assert result.linked == 1
        agreement = services.documents.get_document(
            keys.agreement(order["agreement_id"]).pk, "AGREEMENT", PaymentAgreement
        )
        assert agreement is not None and agreement.status == AgreementStatus.ACTIVE
        services.documents.write(claim_index_writes(first), [])  # issued before the mandate: never claimed
        renewal = first.model_copy(
            update={
                "id": f"inv_ag_{n}",
                "number": 1000 + n,
                "kid": make_invoice_kid(1, 10001 + n, 1000 + n),
                "due_date": date(2027, 1, 15),
                "issued_at": NOW + timedelta(minutes=1),
            }
        )
        services.documents.write(
            [
                document_item_for(renewal),
                lookup_item(keys.kid_lookup(renewal.kid or ""), keys.invoice(renewal.id)),
                *claim_index_writes(renewal),
            ],
            [],
        )
        invoices.append(renewal)
    return invoices


def test_mandates_switch_agreements_and_a_deleted_one_puts_the_subscription_on_invoice(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    http = Http(api, admin)
    catalog = build_catalog(http)
    body = {"offer_id": catalog.campaign_offer["id"], "payment_method": "avtalegiro", "customer": person()}
    _, order = http.post("/v1/orders", body)
    mandates = services.avtalegiro.mandates
    kid = order["payment"]["kid"]
    first = mandates.import_bytes(mandate_file(kid, notify=True), "avtalegiro/mandates/1.txt")
    assert (first.linked, first.unknown_kids) == (1, [])
    assert mandates.import_bytes(mandate_file(kid, notify=True), "again").duplicate
    changed = mandates.import_bytes(mandate_file(kid, notify=False) + b"", "avtalegiro/mandates/2.txt")
    mandate = mandates.mandate(kid)
    assert changed.duplicate is False and mandate is not None and mandate.notify is False
    unknown = mandates.import_bytes(mandate_file(make_invoice_kid(1, 99999, 0)), "avtalegiro/mandates/3.txt")
    assert unknown.unknown_kids == [make_invoice_kid(1, 99999, 0)]
    mandates.import_bytes(mandate_file(kid, registration=2), "avtalegiro/mandates/4.txt")
    mandate = mandates.mandate(kid)
    assert mandate is not None and mandate.status == MandateStatus.DELETED
    subscription = services.documents.get_document(
        keys.subscription(order["subscription_id"]).pk, "SUB", Subscription
    )
    agreement = services.documents.get_document(
        keys.agreement(order["agreement_id"]).pk, "AGREEMENT", PaymentAgreement
    )
    assert subscription is not None and subscription.payment_method == PaymentMethod.INVOICE
    assert agreement is not None and agreement.status == AgreementStatus.STOPPED


def test_the_day_claims_each_invoice_once_and_the_file_reads_back(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    invoices = setup(services, api, admin)
    claims = services.avtalegiro.claims
    result = claims.run(NOW)
    submission = result.submission
    assert submission.status == SubmissionStatus.WRITTEN and submission.claims == 2
    assert submission.key == "avtalegiro/outgoing/2027-01-01-7001001.txt"
    assert result.skipped == {"issued_before_mandate": 2}
    data = services.s3.get_object(Bucket=services.settings.documents_bucket, Key=submission.key)[
        "Body"
    ].read()
    parsed = parse_claim_file(data)
    got = parsed.transmission.assignments[0].claims
    assert sorted((c.kid, c.amount, c.due_date) for c in got) == sorted(
        (i.kid, i.open_amount, i.due_date) for i in invoices
    )
    assert [c.bank_notification for c in sorted(got, key=lambda c: c.kid)] == [True, False]
    assert all(line.strip() for c in got for line in c.specification)
    again = claims.run(NOW + timedelta(hours=1))
    assert again.added == 0 and again.submission.sha256 == submission.sha256
    tomorrow = claims.run(NOW + timedelta(days=3))
    assert tomorrow.submission.status == SubmissionStatus.EMPTY


def test_a_crash_at_any_aws_call_and_a_rerun_claim_each_invoice_once(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    invoices = setup(services, api, admin, customers=3)
    claims = services.avtalegiro.claims
    n, day = 1, NOW
    while True:
        with fail_at_call(n) as fault, contextlib.suppress(InjectedCrash):
            claims.run(day)
        result = claims.run(day)
        submission = result.submission
        assert submission.status == SubmissionStatus.WRITTEN, n
        data = services.s3.get_object(Bucket=services.settings.documents_bucket, Key=submission.key or "")[
            "Body"
        ].read()
        kids = sorted(c.kid for c in parse_claim_file(data).transmission.assignments[0].claims)
        assert kids == sorted(i.kid or "" for i in invoices), n
        if not fault.fired:
            break
        n += 1
        # The next crash runs a new day against fresh invoices claimed by nobody yet.
        day = day + timedelta(days=1)
        for invoice in invoices:
            fresh = invoice.model_copy(
                update={"id": f"{invoice.id}_{n}", "due_date": invoice.due_date + timedelta(days=n)}
            )
            services.documents.write([document_item_for(fresh), *claim_index_writes(fresh)], [])
        invoices = [i.model_copy(update={"id": f"{i.id}_{n}"}) for i in invoices]
    assert n > 5


def test_a_credited_claimed_invoice_gets_a_deletion(
    services: Services, api: Client, admin: dict[str, str]
) -> None:
    invoices = setup(services, api, admin, customers=1)
    avtalegiro = services.avtalegiro
    avtalegiro.claims.run(NOW)
    stored = services.documents.get(keys.invoice(invoices[0].id).pk, "INVOICE")
    assert stored is not None
    credited = invoices[0].model_copy(update={"status": InvoiceStatus.CREDITED, "open_amount": 0})
    services.documents.write([], [(document_item_for(credited), int(stored.version))])
    result = avtalegiro.deletions.run(NOW + timedelta(days=2))
    assert result.submission.status == SubmissionStatus.WRITTEN and result.added == 1
    data = services.s3.get_object(Bucket=services.settings.documents_bucket, Key=result.submission.key or "")[
        "Body"
    ].read()
    parsed = parse_claim_file(data)
    assert parsed.kind == FileKind.DELETIONS
    assert [c.kid for c in parsed.transmission.assignments[0].claims] == [invoices[0].kid]
    assert avtalegiro.deletions.run(NOW + timedelta(days=2, hours=1)).added == 0
