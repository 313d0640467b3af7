"""Mandate files from Nets (assignment type 24): who has an AvtaleGiro mandate, new, changed or deleted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import netsgiro
from netsgiro.records import AssignmentStart, AvtaleGiroAgreement, TransmissionStart

from chalicelib.formats.avtalegiro.records import (
    Found,
    check_trailers,
    content_hash,
    read_records,
    text_lines,
)


class MandateRegistration(StrEnum):
    """What a mandate record says (Nets' registration type 0, 1, 2)."""

    FULL_LIST = "full_list"
    NEW_OR_CHANGED = "new_or_changed"
    DELETED = "deleted"


_REGISTRATIONS = {
    netsgiro.AvtaleGiroRegistrationType.ACTIVE_AGREEMENT: MandateRegistration.FULL_LIST,
    netsgiro.AvtaleGiroRegistrationType.NEW_OR_UPDATED_AGREEMENT: MandateRegistration.NEW_OR_CHANGED,
    netsgiro.AvtaleGiroRegistrationType.DELETED_AGREEMENT: MandateRegistration.DELETED,
}


@dataclass(frozen=True)
class MandateRecord:
    """One payer's mandate as Nets reports it: the KID, new/changed/deleted, and written notice (J/N)."""

    kid: str
    registration: MandateRegistration
    notify: bool
    number: int

    @property
    def active(self) -> bool:
        """A full-list or new/changed record leaves the mandate active; a deleted one ends it."""
        return self.registration != MandateRegistration.DELETED


@dataclass(frozen=True)
class MandateFile:
    """A parsed and checked mandate file."""

    sha256: str
    transmission_number: str
    data_transmitter: str
    data_recipient: str
    mandates: tuple[MandateRecord, ...]


def parse_mandates(data: bytes) -> MandateFile:
    """Parse and check a mandate file from Nets; raises
    :class:`~chalicelib.formats.avtalegiro.records.AvtaleGiroFileError`."""
    found = Found()
    lines = text_lines(data, found)
    records = read_records(lines, found)
    check_trailers(records, found)
    for index, record in enumerate(records, 1):
        if isinstance(record, AssignmentStart) and (
            record.assignment_type != netsgiro.AssignmentType.AVTALEGIRO_AGREEMENTS
        ):
            found.add("assignment_type", "is not a mandate assignment (type 24)", f"line {index}")
        elif isinstance(record, AvtaleGiroAgreement) and not record.kid:
            found.add("missing_kid", "a mandate without a KID", f"line {index}")
    found.raise_if_any()
    start = records[0]
    assert isinstance(start, TransmissionStart)
    mandates = tuple(
        MandateRecord(
            kid=record.kid or "",
            registration=_REGISTRATIONS[record.registration_type],
            notify=record.notify,
            number=record.transaction_number,
        )
        for record in records
        if isinstance(record, AvtaleGiroAgreement)
    )
    return MandateFile(
        sha256=content_hash(data),
        transmission_number=start.transmission_number,
        data_transmitter=start.data_transmitter,
        data_recipient=start.data_recipient,
        mandates=mandates,
    )


__all__ = ["MandateFile", "MandateRecord", "MandateRegistration", "parse_mandates"]
