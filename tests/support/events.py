"""Recorded events in tests: hand what the events table's stream holds to the dispatcher, as Lambda would."""

from __future__ import annotations

from chalicelib.container import Services
from chalicelib.events import Event
from chalicelib.store.events import EventItem, event_from_item


def dispatch_events(services: Services) -> int:
    """Deliver every event recorded since the last call to the dispatcher (functions/events.py);
    returns how many stream records were handed over."""
    return sum(pump.pump() for pump in services.drainer.pumps)


def recorded_events() -> list[Event]:
    """Every event in the events table, oldest first (a scan: tests only). Events of one instant (a frozen
    test clock) are in no particular order among themselves: their ids end in random bits."""
    return sorted((event_from_item(item) for item in EventItem.scan()), key=lambda event: event.id)
