"""Which lines an invoice's earlier credit notes credited in full (a line is credited once)."""

from __future__ import annotations

from chalicelib.billing.credit_notes import CreditMarker, already_credited


def marker(ident: str, amount: int, lines: list[int]) -> CreditMarker:
    return CreditMarker(credit_note_id=ident, amount=amount, line_numbers=lines)


def test_a_line_credited_by_number_or_by_a_full_credit_note_counts_as_credited() -> None:
    markers = [marker("crn_1", 5000, [2]), marker("crn_2", 100, [])]
    assert already_credited(markers, [1, 2, 3]) == [2]
    assert already_credited([marker("crn_3", 34900, [1, 2])], [2, 1]) == [1, 2]


def test_credits_by_days_name_no_line_and_markers_stored_before_line_numbers_read_as_none() -> None:
    old = CreditMarker.model_validate({"credit_note_id": "crn_old", "amount": 900})
    assert old.line_numbers == []
    assert already_credited([old, marker("crn_days", 1200, [])], [1]) == []
