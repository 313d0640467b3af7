"""Building OCR giro files the way Nets would, with netsgiro, for payments the tests choose."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from netsgiro import AssignmentType, ServiceCode, Transaction, TransactionType, Transmission

SAMPLE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "nets" / "ocr_giro_transactions.txt"
)
SAMPLE_TRANSACTIONS = 20
SAMPLE_TOTAL = 5_144_900


@dataclass(frozen=True)
class Paid:
    """One payment in a generated file: a KID (or None) and an amount in øre (negative: reversal)."""

    kid: str | None
    amount: int
    transaction_type: int = 10


def ocr_file(
    payments: Sequence[Paid],
    *,
    nets_date: date = date(2027, 1, 5),
    transmission: str = "1000001",
    assignment: str = "0000001",
    agreement_id: str = "001008566",
) -> bytes:
    """A valid OCR giro file (ISO-8859-1, newline-terminated records) holding ``payments``."""
    file = Transmission(
        number=transmission, data_transmitter="00008080", data_recipient="00010200", date=nets_date
    )
    target = file.add_assignment(
        service_code=ServiceCode.OCR_GIRO,
        assignment_type=AssignmentType.TRANSACTIONS,
        agreement_id=agreement_id,
        number=assignment,
        account="86011117947",
        date=nets_date,
    )
    for number, paid in enumerate(payments, 1):
        target.transactions.append(
            Transaction(
                service_code=ServiceCode.OCR_GIRO,
                type=TransactionType(paid.transaction_type),
                number=number,
                date=nets_date,
                amount=Decimal(abs(paid.amount)) / 100,
                kid=paid.kid or "0",
                reference=f"{number:09d}",
                text="Betaling" if paid.transaction_type in (20, 21) else None,
                centre_id="13",
                day_code=5,
                partial_settlement_number=1,
                partial_settlement_serial_number="01464",
                sign="-" if paid.amount < 0 else "0",
                form_number="9636827194",
                bank_date=nets_date,
                debit_account="99990512341",
                filler="0000000",
            )
        )
    lines = file.to_ocr().split("\n")
    # netsgiro cannot write a transaction without a KID: blank the placeholder's field afterwards.
    blank = {f"{number:07d}" for number, paid in enumerate(payments, 1) if paid.kid is None}
    lines = [
        line[:49] + " " * 25 + line[74:] if line[6:8] == "30" and line[8:15] in blank else line
        for line in lines
    ]
    return ("\n".join(lines) + "\n").encode("latin-1")


def sample_bytes() -> bytes:
    """The official sample (read from ../shared/specs, never copied into the repo)."""
    return SAMPLE.read_bytes()
