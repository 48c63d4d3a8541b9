"""The event bus: outbox publishing, the relay, idempotent consumers, dead letters.

Producing (inside the business transaction):   await publish(tx, "catalog.event.published", data, source="catalog")
Consuming:                                     handlers = HandlerRegistry(); @handlers.on("...")
Wiring (in a service's main.py):               ServiceSpec(components=[event_bus(...)], extra_migrations=[MIGRATIONS])
"""

from .catalog import EVENTS, EventSpec, UnknownEvent, consumed_by, spec_for
from .envelope import Event
from .handlers import BroadcastRegistry, Handler, HandlerRegistry
from .outbox import MIGRATIONS, publish

__all__ = [
    "EVENTS",
    "MIGRATIONS",
    "BroadcastRegistry",
    "Event",
    "EventSpec",
    "Handler",
    "HandlerRegistry",
    "UnknownEvent",
    "consumed_by",
    "publish",
    "spec_for",
]
