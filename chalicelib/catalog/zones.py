"""Sellers' own time: each legal entity's business dates are dates on its own calendar.

A seller's time zone is fixed when it is created (the patch cannot change it), so a process reads it
once per seller and keeps it: code that holds only a ``legal_entity_id`` asks :class:`SellerZones`.
Code that holds the :class:`LegalEntity` asks it directly (:meth:`LegalEntity.business_date`).

The daily runs fire on UTC crons and plan for the platform's date (Europe/Oslo). A seller whose calendar
stands on another date at that moment works the run for its own date: :func:`seller_run_date`.
"""

from __future__ import annotations

from datetime import date, datetime
from threading import Lock
from zoneinfo import ZoneInfo

from chalicelib.catalog.models import LegalEntity
from chalicelib.clock import DEFAULT_TIME_ZONE, local_date
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore


def seller_run_date(run_date: date, entity: LegalEntity, now: datetime) -> date:
    """A daily run's business date for one seller: the run's (platform) date moved by as many days as the
    seller's calendar stands from the platform's at ``now`` (0 for a Europe/Oslo seller; -1 for a seller
    west of it while the platform's date has already turned)."""
    return run_date + (entity.business_date(now) - local_date(now, DEFAULT_TIME_ZONE))


class SellerZones:
    """Each seller's time zone, read once per process."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store
        self._zones: dict[str, ZoneInfo] = {}
        self._lock = Lock()

    def zone(self, legal_entity_id: str) -> ZoneInfo:
        """The seller's time zone (Europe/Oslo for a seller that is gone: its documents keep their dates)."""
        with self._lock:
            known = self._zones.get(legal_entity_id)
        if known is not None:
            return known
        entity = self._store.get_document(keys.legal_entity(legal_entity_id).pk, "ENTITY", LegalEntity)
        zone = entity.zone if entity is not None else DEFAULT_TIME_ZONE
        with self._lock:
            self._zones[legal_entity_id] = zone
        return zone

    def remember(self, entity: LegalEntity) -> None:
        """Keep the zone of an entity already read (saves the read later)."""
        with self._lock:
            self._zones[entity.id] = entity.zone

    def business_date(self, instant: datetime, legal_entity_id: str) -> date:
        """The seller's business date at ``instant``."""
        return local_date(instant, self.zone(legal_entity_id))
