"""AvtaleGiro's stored documents and where they live in the main table.

| item | pk | sk | index |
|---|---|---|---|
| configuration | `AVTALEGIRO#CONFIG` | `CONFIG` | |
| mandate | `AGMANDATE#<kid>` | `MANDATE` | |
| agreement KID lookup | `AGKID#<kid>` | `AGREEMENT#<agreement id>` | |
| mandate file report | `AGMANDATEFILE#<sha256>` | `REPORT` | gsi1 `AGMANDATEFILES` / `<created>#<sha>` |
| claim index (unclaimed) | `AGCLAIM#<due date>` | `INVOICE#<id>` | gsi1 `AGCLAIMS#<yyyy-mm>` / `<due>#<id>` |
| claim marker | `AGCLAIMED#<invoice id>` | `CLAIM` | gsi1 `AGCLAIMED#<due yyyy-mm>` / `<due>#<id>` |
| submission | `AGSUB#<date>#<kind>` | `SUBMISSION` | gsi1 `AGSUBS` / `<date>#<kind>` |
| submission line | `AGSUB#<date>#<kind>` | `LINE#<invoice id>` | |
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from chalicelib.formats.avtalegiro.claims import Claim, FileKind
from chalicelib.formats.avtalegiro.mandates import MandateRegistration
from chalicelib.store.documents import Keys
from chalicelib.values import Document


class EntityAgreement(Document):
    """A seller's AvtaleGiro agreement with Nets."""

    agreement_id: str = Field(pattern=r"^\d{9}$", description="Nets' agreement id (9 digits)")
    account: str = Field(pattern=r"^\d{11}$", description="the account claims are paid to (11 digits)")
    bank_notification: bool = Field(
        default=False,
        description="true: the bank sends the payer's notice (type 21); false: we notify (type 02)",
    )


class AvtaleGiroConfig(Document):
    """The platform's data transmitter id at Nets and each seller's agreement."""

    data_transmitter: str = Field(pattern=r"^\d{8}$")
    agreements: dict[str, EntityAgreement] = Field(description="legal entity id → agreement")


class MandateStatus(StrEnum):
    """Whether a payer's mandate lets us claim."""

    ACTIVE = "active"
    DELETED = "deleted"


class Mandate(Document):
    """A payer's mandate, known by its KID, with the payer's choice of a written notice."""

    kid: str
    status: MandateStatus
    notify: bool
    registration: MandateRegistration
    customer_id: str
    agreement_ids: list[str]
    active_since: datetime | None = Field(
        default=None, description="invoices issued from then on are claimed"
    )
    file_id: str
    updated_at: datetime
    switched_to_invoice: list[str] = Field(
        default_factory=list,
        description="subscriptions this deletion of an active mandate put back on invoice with KID "
        "(recorded as mandate.deleted in the transaction that switched them)",
    )


class MandateFileReport(Document):
    """What one mandate file did."""

    id: str
    key: str
    status: str
    mandates: int
    active: int
    deleted: int
    notify: int
    linked: int
    unknown_kids: list[str]
    created_at: datetime
    finished_at: datetime | None = None


class SubmissionStatus(StrEnum):
    """A day's file: selecting claims, selection frozen, written to S3, or nothing to send."""

    CLAIMING = "claiming"
    CLAIMED = "claimed"
    WRITTEN = "written"
    EMPTY = "empty"


class Submission(Document):
    """The record of one day's claim or deletion file."""

    day: date
    kind: FileKind
    status: SubmissionStatus
    transmission_number: str
    earliest_due: date
    latest_due: date
    key: str | None = None
    sha256: str | None = None
    claims: int = 0
    total_amount: int = 0
    created_at: datetime
    written_at: datetime | None = None


class SubmissionLine(Document):
    """One claim (or deletion) of a submission, with the invoice it is for."""

    invoice_id: str
    legal_entity_id: str
    customer_id: str
    kid: str
    due_date: date
    amount: int
    reference: str | None
    payer_name: str | None
    bank_notification: bool
    specification: list[str]

    def claim(self) -> Claim:
        """The line as the file's claim."""
        return Claim(
            kid=self.kid,
            due_date=self.due_date,
            amount=self.amount,
            reference=self.reference,
            payer_name=self.payer_name,
            bank_notification=self.bank_notification,
            specification=tuple(self.specification),
        )


class ClaimStatus(StrEnum):
    """A claimed invoice: claimed, or its claim deleted."""

    CLAIMED = "claimed"
    DELETED = "deleted"


class ClaimMarker(Document):
    """Proof that an invoice was claimed, once: created only if it does not exist."""

    invoice_id: str
    customer_id: str
    legal_entity_id: str
    status: ClaimStatus
    submitted_on: date
    line: SubmissionLine
    deleted_on: date | None = None


# ---- keys ----------------------------------------------------------------------------------------


def config_key() -> Keys:
    """The platform's AvtaleGiro configuration."""
    return Keys("AVTALEGIRO#CONFIG", "CONFIG")


def mandate_key(kid: str) -> Keys:
    """A mandate by KID."""
    return Keys(f"AGMANDATE#{kid}", "MANDATE")


def agreement_kid_key(kid: str, agreement_id: str) -> Keys:
    """Finds the AvtaleGiro payment agreements registered with a KID (one entry each)."""
    return Keys(f"AGKID#{kid}", f"AGREEMENT#{agreement_id}")


def mandate_file_key(sha256: str, created_at: datetime | None = None) -> Keys:
    """A mandate file's report."""
    listed = ("AGMANDATEFILES", f"{created_at.isoformat()}#{sha256}") if created_at else None
    return Keys(f"AGMANDATEFILE#{sha256}", "REPORT", gsi1=listed)


def claim_index_key(due_date: date, invoice_id: str) -> Keys:
    """An issued, open AvtaleGiro invoice waiting to be claimed, by due date."""
    return Keys(
        f"AGCLAIM#{due_date.isoformat()}",
        f"INVOICE#{invoice_id}",
        gsi1=(claim_month(due_date), f"{due_date.isoformat()}#{invoice_id}"),
    )


def claim_month(day: date) -> str:
    """The gsi1 partition of one month's unclaimed invoices."""
    return f"AGCLAIMS#{day:%Y-%m}"


def claim_marker_key(invoice_id: str, due_date: date | None = None) -> Keys:
    """An invoice's claim marker, listed by due month (for deletions and dunning)."""
    listed = (claimed_month(due_date), f"{due_date.isoformat()}#{invoice_id}") if due_date else None
    return Keys(f"AGCLAIMED#{invoice_id}", "CLAIM", gsi1=listed)


def claimed_month(day: date) -> str:
    """The gsi1 partition of one month's claimed invoices."""
    return f"AGCLAIMED#{day:%Y-%m}"


def submission_pk(day: date, kind: FileKind) -> str:
    """The partition of one day's file: its record and its lines."""
    return f"AGSUB#{day.isoformat()}#{kind.value}"


def submission_key(day: date, kind: FileKind, listed: bool = False) -> Keys:
    """A day's submission record."""
    return Keys(
        submission_pk(day, kind),
        "SUBMISSION",
        gsi1=("AGSUBS", f"{day.isoformat()}#{kind}") if listed else None,
    )


def submission_line_key(day: date, kind: FileKind, invoice_id: str) -> Keys:
    """One line of a day's file."""
    return Keys(submission_pk(day, kind), f"LINE#{invoice_id}")
