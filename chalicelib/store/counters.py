"""Number series (customer numbers, gapless invoice numbers) as counters advanced inside transactions.

A counter is read, and the transaction that uses the next numbers also moves the counter from the value
it read; if anyone else moved it first the transaction fails and the caller retries. So a number is
only ever used by a committed transaction: no gaps, no duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.store.base import MainItem
from chalicelib.store.documents import Keys


class CounterItem(MainItem):
    """The last number handed out in a series, and the number that names the series (if it has one: an
    invoice series carries its seller's KID prefix)."""

    value = NumberAttribute()
    prefix = NumberAttribute(null=True)


@dataclass(frozen=True)
class CounterReading:
    """A counter as read: ``last`` is the last number used (``start - 1`` before any)."""

    keys: Keys
    last: int
    exists: bool
    prefix: int | None = None

    def take(
        self, count: int = 1, *, prefix: int | None = None
    ) -> tuple[list[int], tuple[CounterItem, list[Any], Any]]:
        """The next ``count`` numbers and the transactional update that claims them; ``prefix`` names a
        series that has no prefix yet (the same condition makes it stick: whoever moves the counter first
        names it)."""
        numbers = list(range(self.last + 1, self.last + 1 + count))
        item = CounterItem(self.keys.pk, self.keys.sk)
        condition = CounterItem.value == self.last if self.exists else CounterItem.pk.does_not_exist()
        actions = [CounterItem.value.set(self.last + count)]
        if prefix is not None and self.prefix is None:
            actions.append(CounterItem.prefix.set(prefix))
        return numbers, (item, actions, condition)


def read_counter(keys: Keys, start: int) -> CounterReading:
    """Read a series; a series never used starts at ``start``."""
    try:
        item = CounterItem.get(keys.pk, keys.sk, consistent_read=True)
    except DoesNotExist:
        return CounterReading(keys, start - 1, exists=False)
    prefix = int(item.prefix) if item.prefix is not None else None
    return CounterReading(keys, int(item.value), exists=True, prefix=prefix)


def allocate_number(keys: Keys, start: int) -> int:
    """The next number of a series that need not be gapless (customer numbers), in one atomic update.

    Unlike :func:`read_counter`, this never conflicts with concurrent callers; a number taken by a
    request that then fails is simply not used.
    """
    item = CounterItem(keys.pk, keys.sk)
    returned = item.update(actions=[CounterItem.value.set((CounterItem.value | (start - 1)) + 1)])
    return int(returned["Attributes"]["value"]["N"]) if "Attributes" in returned else int(item.value)
