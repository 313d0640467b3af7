"""The main table: one table, generic keys, items of many kinds told apart by their key prefixes.

Every model in :mod:`chalicelib.store` subclasses :class:`MainItem` and so shares its ``Meta``; the
table name and region are bound once from settings by :func:`bind_tables`.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from chalicelib.settings import Settings


class MainItem(Model):
    """Base of every item in the main table."""

    class Meta:
        table_name = "abo-main"
        region = "eu-north-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


def bind_tables(settings: Settings) -> None:
    """Point every model at the deployment's table; PynamoDB reconnects when the name changes."""
    from chalicelib.store.events import bind_events_table

    MainItem.Meta.table_name = settings.main_table
    MainItem.Meta.region = settings.region
    bind_events_table(settings)
