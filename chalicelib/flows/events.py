"""Dispatching recorded events to their consumers, after the transaction that recorded them committed.

The events table's stream brings each new event here once or more (Lambda's event-source mapping in
AWS, :class:`chalicelib.jobs.streams.StreamPump` locally); every consumer is idempotent by the event's id or
a key derived from it, so a redelivery changes nothing. A consumer that raises fails the event, and the
stream delivers it again to every consumer.

Consumers today: the notifications (the customer's messages). Webhooks, document delivery, metrics and
exports hang here next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.events import Event
from chalicelib.notifications.events import notices_for
from chalicelib.notifications.queue import NotificationQueue
from chalicelib.store.events import event_from_stream_image

Consumer = Callable[[Event], None]


@dataclass(frozen=True)
class NamedConsumer:
    """A consumer and the name it is logged by."""

    name: str
    consume: Consumer


def notification_consumer(queue: NotificationQueue) -> NamedConsumer:
    """Enqueues the notices an event calls for (each sent once per message key)."""

    def consume(event: Event) -> None:
        queue.enqueue(notices_for(event))

    return NamedConsumer("notifications", consume)


class EventDispatcher:
    """Hands each event to every consumer, in order."""

    def __init__(self, consumers: Sequence[NamedConsumer]) -> None:
        self._consumers = list(consumers)

    def dispatch(self, event: Event) -> list[str]:
        """Give ``event`` to every consumer; returns their names. A consumer's error propagates."""
        for consumer in self._consumers:
            consumer.consume(event)
        return [consumer.name for consumer in self._consumers]

    def dispatch_stream_image(self, image: Mapping[str, Any]) -> Event:
        """Dispatch the event of a stream record's ``NewImage``; returns it."""
        event = event_from_stream_image(image)
        self.dispatch(event)
        return event
