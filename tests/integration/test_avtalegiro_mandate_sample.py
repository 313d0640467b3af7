"""Nets' sample mandate file (16 mandates, shipped with netsgiro) imported through the mandate import into
the store: every mandate recorded with the payer's notice choice, the KIDs naming nothing reported in the
file's report, and the same file again changes nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from chalicelib.avtalegiro.mandates import agreement_kid_writes
from chalicelib.avtalegiro.models import Mandate, MandateStatus
from chalicelib.container import Services
from chalicelib.formats.avtalegiro.mandates import MandateRegistration
from chalicelib.formats.avtalegiro.records import content_hash
from chalicelib.store import keys
from chalicelib.store.documents import document_item
from chalicelib.subscriptions.models import AgreementStatus, PaymentAgreement
from chalicelib.values import PaymentMethod
from infra.local.resources import LocalResources
from tests.conftest import CLOCK_START
from tests.contract.test_avtalegiro_samples import NOTIFY
from tests.support.ledger import dump_table

SAMPLE = Path("/work/shared/specs/nets/avtalegiro_agreements.txt")
KEY = "avtalegiro/mandates/avtalegiro_agreements.txt"


def agreements(services: Services, kids: list[str]) -> dict[str, str]:
    """An AvtaleGiro agreement waiting for its mandate per KID, each its own customer's, with the KID
    lookup orders write; returns KID → agreement id."""
    made: dict[str, str] = {}
    for number, kid in enumerate(kids, 1):
        agreement = PaymentAgreement(
            id=f"agr_sample_{number}",
            customer_id=f"cus_sample_{number}",
            method=PaymentMethod.AVTALEGIRO,
            status=AgreementStatus.PENDING_MANDATE,
            kid=kid,
            created_at=CLOCK_START - timedelta(days=3),
        )
        services.documents.write(
            [
                document_item("agreement", keys.agreement(agreement.id), agreement, status=agreement.status),
                *agreement_kid_writes(agreement),
            ],
            [],
        )
        made[kid] = agreement.id
    return made


def upload(services: Services) -> tuple[str, str]:
    """The sample put in the bucket as Nets would drop it; returns the bucket and the ETag."""
    bucket = services.settings.documents_bucket
    services.s3.put_object(Bucket=bucket, Key=KEY, Body=SAMPLE.read_bytes())
    return bucket, services.s3.head_object(Bucket=bucket, Key=KEY)["ETag"].strip('"')


def test_the_sample_records_16_mandates_with_their_notice_flags_and_a_second_import_changes_nothing(
    aws: LocalResources, services: Services
) -> None:
    # Given an agreement waiting for a mandate for every KID of the sample
    waiting = agreements(services, sorted(NOTIFY))
    mandates = services.avtalegiro.mandates
    bucket, etag = upload(services)
    # When the sample is imported from the bucket
    result = mandates.import_object(bucket, KEY, etag)
    # Then all 16 mandates are recorded, active, with the payer's J/N choice of a written notice
    assert (result.duplicate, result.mandates, result.linked, result.unknown_kids) == (False, 16, 16, [])
    assert result.file_id == content_hash(SAMPLE.read_bytes())
    recorded = {kid: mandates.mandate(kid) for kid in NOTIFY}
    assert {kid: m.notify for kid, m in recorded.items() if m is not None} == NOTIFY
    assert sum(NOTIFY.values()) == 11
    for kid, mandate in recorded.items():
        assert isinstance(mandate, Mandate)
        assert (mandate.status, mandate.registration, mandate.file_id) == (
            MandateStatus.ACTIVE,
            MandateRegistration.NEW_OR_CHANGED,
            result.file_id,
        )
        assert mandate.agreement_ids == [waiting[kid]]
        assert mandate.active_since == CLOCK_START
    # And every agreement it names is active
    for agreement_id in waiting.values():
        agreement = services.documents.get_document(
            keys.agreement(agreement_id).pk, "AGREEMENT", PaymentAgreement
        )
        assert agreement is not None and agreement.status == AgreementStatus.ACTIVE
    # And the file's report counts them
    report = mandates.report(result.file_id)
    assert report is not None
    assert (report.status, report.key, report.mandates, report.active, report.deleted) == (
        "imported",
        KEY,
        16,
        16,
        0,
    )
    assert (report.notify, report.linked, report.unknown_kids) == (11, 16, [])
    # When the same file is imported again (a redelivery, or the same bytes dropped under another name)
    before = dump_table(services)
    again = mandates.import_object(bucket, KEY, etag)
    renamed = mandates.import_bytes(SAMPLE.read_bytes(), "avtalegiro/mandates/copy.txt")
    # Then both are reported as the duplicate they are, and the table has not changed at all
    assert (again.duplicate, again.file_id, again.mandates, again.linked) == (True, result.file_id, 16, 0)
    assert (renamed.duplicate, renamed.file_id) == (True, result.file_id)
    assert dump_table(services) == before


def test_kids_that_name_nothing_are_reported_with_the_file(aws: LocalResources, services: Services) -> None:
    # Given agreements for ten of the sample's sixteen KIDs only
    kids = sorted(NOTIFY)
    known, unknown = kids[:10], kids[10:]
    agreements(services, known)
    mandates = services.avtalegiro.mandates
    bucket, etag = upload(services)
    # When the sample is imported
    result = mandates.import_object(bucket, KEY, etag)
    # Then the ten are recorded with their notice flags, and the six unknown KIDs are reported, not raised
    assert (result.mandates, result.linked) == (16, 10)
    assert sorted(result.unknown_kids) == unknown
    assert {kid: m.notify for kid in kids if (m := mandates.mandate(kid)) is not None} == {
        kid: NOTIFY[kid] for kid in known
    }
    report = mandates.report(result.file_id)
    assert report is not None
    assert (report.status, report.mandates, report.notify, report.linked) == ("imported", 16, 11, 10)
    assert sorted(report.unknown_kids) == unknown
    # And the file's report is listed among the mandate files
    listed = services.documents.query("AGMANDATEFILES", index="gsi1").items
    assert [item.pk for item in listed] == [f"AGMANDATEFILE#{result.file_id}"]
    # And a second import changes nothing, not even for the KIDs it could not place
    before = dump_table(services)
    assert mandates.import_object(bucket, KEY, etag).duplicate
    assert dump_table(services) == before


def test_an_empty_store_records_no_mandate_and_reports_all_16(
    aws: LocalResources, services: Services
) -> None:
    mandates = services.avtalegiro.mandates
    result = mandates.import_bytes(SAMPLE.read_bytes(), KEY)
    assert (result.mandates, result.linked, sorted(result.unknown_kids)) == (16, 0, sorted(NOTIFY))
    assert all(mandates.mandate(kid) is None for kid in NOTIFY)
    report = mandates.report(result.file_id)
    assert report is not None and sorted(report.unknown_kids) == sorted(NOTIFY)
