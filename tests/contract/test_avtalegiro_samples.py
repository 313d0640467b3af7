"""Nets' AvtaleGiro samples (shipped with netsgiro): the mandate file and the payment request file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import netsgiro

from chalicelib.billing.kid import make_invoice_kid
from chalicelib.formats.avtalegiro.claim_files import build_file, parse_claim_file
from chalicelib.formats.avtalegiro.claims import (
    Claim,
    ClaimAssignment,
    ClaimTransmission,
    DueWindow,
    FileKind,
)
from chalicelib.formats.avtalegiro.mandates import MandateRegistration, parse_mandates

SPECS = Path("/work/shared/specs/nets")
NOTIFY = {
    "000112000507155": True, "001006300507304": False, "001020200507462": True, "001026300507518": True,
    "001044400507783": True, "001045000507792": False, "001057800507922": False, "001060300509570": True,
    "001087600508176": True, "001105600508416": True, "001123000508621": True, "001124000508637": True,
    "001138900509107": False, "001143700509281": True, "001146800509317": True, "001186100509492": False,
}  # fmt: skip


def test_the_mandate_sample_holds_16_mandates_with_their_notice_flags() -> None:
    parsed = parse_mandates((SPECS / "avtalegiro_agreements.txt").read_bytes())
    assert len(parsed.mandates) == 16
    assert {m.kid: m.notify for m in parsed.mandates} == NOTIFY
    assert {m.registration for m in parsed.mandates} == {MandateRegistration.NEW_OR_CHANGED}
    assert parsed.data_recipient == "00010200" or parsed.data_transmitter == "00008080"


def test_the_payment_request_sample_reads_as_netsgiro_reads_it() -> None:
    data = (SPECS / "avtalegiro_payment_request.txt").read_bytes()
    ours = parse_claim_file(data)
    theirs = netsgiro.parse(data.decode("latin-1"))
    claims = ours.transmission.assignments[0].claims
    requests = [t for t in theirs.assignments[0].transactions if isinstance(t, netsgiro.PaymentRequest)]
    assert [(c.kid, c.due_date, c.amount) for c in claims] == [
        (r.kid, r.date, r.amount_in_cents) for r in requests
    ]
    assert ours.record_count == 22 and ours.total_amount == 600
    assert [c.bank_notification for c in claims] == [True] * 5 + [False]


def _spec(n: int) -> tuple[str, ...]:
    if n in (1, 2, 5):
        return (f"Gjelder Faktura: {n}", "ForfallsDato: 17/06/27")
    return () if n == 6 else (f"Faktura {n}",)


def test_our_claim_file_has_the_samples_structure() -> None:
    sample = (SPECS / "avtalegiro_payment_request.txt").read_text("latin-1").splitlines()
    due = date(2027, 6, 17)
    claims = tuple(
        Claim(
            make_invoice_kid(1, 10000 + n, n),
            due,
            100,
            payer_name="NAVN",
            bank_notification=n != 6,
            specification=_spec(n),
        )
        for n in range(1, 7)
    )
    ours = (
        build_file(
            ClaimTransmission(
                "1000081", "55555555", (ClaimAssignment("4000086", "000000000", "88888888888", claims),)
            ),
            FileKind.CLAIMS,
            DueWindow(date(2027, 6, 1), date(2028, 6, 1)),
        )
        .decode("latin-1")
        .splitlines()
    )
    record_types = [line[6:8] for line in ours]
    assert record_types[:2] == ["10", "20"] and record_types[-2:] == ["88", "89"]
    assert [line[:8] for line in ours[:2]] == [line[:8] for line in sample[:2]]
    assert ours[-1][8:16] == sample[-1][8:16] == "00000006"
    assert int(ours[-1][24:41]) == int(sample[-1][24:41]) == 600
    assert all(len(line) == 80 for line in ours)
