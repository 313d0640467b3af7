"""What recording an incoming payment takes and gives: the payment as a source reports it, the planned
writes, the outcome, and the conflict on a write the caller added."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from chalicelib.ledger.models import IncomingMethod, Payment
from chalicelib.ledger.posting import LedgerWrites, stable_id
from chalicelib.money import Currency
from chalicelib.store.documents import WriteConflictError


@dataclass(frozen=True)
class IncomingPayment:
    """Money a source (a bank file, a provider, the back office) reports as received."""

    source: str
    source_reference: str
    method: IncomingMethod
    amount: int
    currency: Currency
    paid_on: date
    kid: str | None
    kid_valid: bool
    payer_account: str | None = None
    text: str | None = None
    file_id: str | None = None

    @property
    def payment_id(self) -> str:
        """The payment's id: the same for every report of the same payment."""
        return stable_id("pay", self.source, self.source_reference)


@dataclass
class PlannedPayment:
    """A payment and the writes that record it; the payment item is the first create."""

    payment: Payment
    writes: LedgerWrites
    owner: tuple[str, str, str] | None = None
    invoice_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedPayment:
    """What recording a payment did; ``duplicate`` when it had been recorded before."""

    payment: Payment
    duplicate: bool
    became_paid: list[str]


class HeldWriteConflictError(WriteConflictError):
    """A payment's transaction failed on a write its caller added (read by the caller, not the ledger)."""
