"""Every event the catalog consumes.

Broadcast (every replica, no transaction): any event the catalog itself produces changes
something a cached page may show, so each replica drops its answer cache when one arrives,
and after every (re)connection to the broker (events sent while it was cut off were missed).
"""

from __future__ import annotations

import weakref

from tdc_shared.cache import ResponseCache
from tdc_shared.events import EVENTS, BroadcastRegistry, Event

# Every event the catalog produces changes something a cached page may show.
CACHE_EVENTS = sorted(t for t, spec in EVENTS.items() if spec.producer == "catalog")

# The answer caches of this process's apps (one in production; tests build several).
caches: weakref.WeakSet[ResponseCache] = weakref.WeakSet()

broadcast = BroadcastRegistry()


async def drop_cached_pages(_: Event) -> None:
    for cache in list(caches):
        cache.clear()


async def drop_after_reconnect() -> None:
    for cache in list(caches):
        cache.clear()


for _event_type in CACHE_EVENTS:
    broadcast.on(_event_type)(drop_cached_pages)
broadcast.on_resync(drop_after_reconnect)
