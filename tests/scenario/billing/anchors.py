"""The billing-day scenarios' table, which is their assertion: the module docstring's rows are compared, cell
by cell, with the subscription's period invoices and its next draft rendered the same way.

    | Document | Issued     | First day  | Last day   | Amount     |
    |----------|------------|------------|------------|------------|
    | invoice  | 2027-01-30 | 2027-01-31 | 2027-02-27 | 49.00 NOK  |
    | draft    | 2027-05-17 | 2027-05-31 | 2027-06-29 | 199.00 NOK |

Only lines that bill a period are rows: fee documents (a reminder fee, say) are not what these stories are
about, and their numbers would shift with the dunning plan.
"""

from __future__ import annotations

from tests.scenario.billing.conftest import Doc, documents, draft
from tests.scenario.conftest import Api

Row = tuple[str, ...]
HEADER: Row = ("Document", "Issued", "First day", "Last day", "Amount")


def _amount(minor: int, currency: str = "NOK") -> str:
    return f"{minor // 100}.{minor % 100:02d} {currency}"


def _rows(kind: str, doc: Doc) -> list[Row]:
    return [
        (kind, doc.issued, line.first, line.last, _amount(line.gross))
        for line in doc.lines
        if line.first is not None and line.last is not None
    ]


def period_table(api: Api, customer_id: str, subscription_id: str) -> list[Row]:
    """Every period line of the customer's invoices, then the next draft's, as table rows."""
    rows = [
        row for doc in documents(api, customer_id) if doc.kind == "invoice" for row in _rows("invoice", doc)
    ]
    upcoming = draft(api, subscription_id)
    return rows + (_rows("draft", upcoming) if upcoming else [])


def table_in(docstring: str | None) -> list[Row]:
    """The rows of the table in ``docstring`` (header and separator left out)."""
    rows = []
    for text in (docstring or "").splitlines():
        cells = tuple(cell.strip() for cell in text.strip().strip("|").split("|"))
        if text.strip().startswith("|") and cells != HEADER and not set("".join(cells)) <= {"-"}:
            rows.append(cells)
    assert rows, "the scenario's docstring has no table of expected documents"
    return rows
