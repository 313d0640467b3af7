"""The due index (gsi3): where the daily runs find their work.

A document that a run must act on by a day carries ``gsi3pk = DUE#<run>`` and
``gsi3sk = <day>#<shard>#<id>`` (a subscription whose next invoice is due, a dunning case whose next step
is due). A run's planner reads that one partition up to its business date and queues a work item for each
(day, shard) it finds: a day on which nothing falls due costs one Query and queues nothing, and a day whose
run failed is caught up by the next run, because what was not done is still listed under its old day.

The partition takes one write whenever an entry's day changes: well below a partition's write throughput
for the runs' sizes (an invoice run issues at most a few hundred invoices a second).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from chalicelib.store.documents import DocumentItem, decode_cursor, encode_cursor

INVOICE_RUN = "invoice"
DUNNING_RUN = "dunning"
CHARGE_RUN = "charge"  # first charges, card retries and retries to resume (the entry's shard says which)
POLL_RUN = "poll"  # open set-ups, charges and refunds to reconcile
NEW_CARD_RUN = "card-new"
# The runs /health watches for work left undone.
WATCHED_RUNS = (INVOICE_RUN, DUNNING_RUN, CHARGE_RUN)
_PAGE = 1000


def due_entry(run: str, day: date, shard: int, ident: str) -> tuple[str, str]:
    """The due-index keys of ``ident``, due for ``run`` on ``day`` in ``shard``."""
    return f"DUE#{run}", f"{day.isoformat()}#{shard:02d}#{ident}"


@dataclass(frozen=True)
class DueEntry:
    """One entry of the due index: the item's own keys, and the day and shard it is due in."""

    pk: str
    sk: str
    day: date
    shard: int
    ident: str


def due_entries(run: str, until: date, since: date | None = None) -> Iterator[DueEntry]:
    """The entries due for ``run`` on or before ``until`` (and, given ``since``, not before it), in order
    of day, shard and id."""
    # "~" sorts after every digit and "#": the whole of ``until`` is included, nothing after it.
    upper = f"{until.isoformat()}~"
    condition = (
        DocumentItem.gsi3sk.between(since.isoformat(), upper)
        if since is not None
        else DocumentItem.gsi3sk <= upper
    )
    cursor: str | None = None
    while True:
        results = DocumentItem.gsi3.query(
            f"DUE#{run}",
            range_key_condition=condition,
            limit=_PAGE,
            last_evaluated_key=decode_cursor(cursor, ("gsi3pk", "gsi3sk")),
        )
        for item in results:
            day, shard, ident = str(item.gsi3sk).split("#", 2)
            yield DueEntry(item.pk, item.sk, date.fromisoformat(day), int(shard), ident)
        cursor = encode_cursor(results.last_evaluated_key)
        if cursor is None:
            return


def due_partitions(run: str, until: date) -> list[tuple[date, int]]:
    """Every (day, shard) with something due for ``run`` on or before ``until``, in order."""
    return sorted({(entry.day, entry.shard) for entry in due_entries(run, until)})


def earliest_due(run: str, before: date) -> date | None:
    """The earliest day something is still due for ``run`` before ``before``, if any (one query)."""
    for item in DocumentItem.gsi3.query(
        f"DUE#{run}", range_key_condition=DocumentItem.gsi3sk < before.isoformat(), limit=1
    ):
        return date.fromisoformat(str(item.gsi3sk).split("#", 1)[0])
    return None
